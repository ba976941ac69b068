import pytest

from secondme.node.core.errors import InvalidRequest
from secondme.node.people.naming import check_name


@pytest.mark.parametrize("name", ["alice", "laptop-2", "A.b_c", "x" * 64])
def test_good_names_pass(name):
    assert check_name("peer", name) == name


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x" * 65, "é"])
def test_bad_names_say_what_is_wrong(name):
    with pytest.raises(InvalidRequest, match=r"^role name .*at most 64"):
        check_name("role", name)

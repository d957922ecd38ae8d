"""`units`: unit conversion for length, mass, volume, time, speed and temperature."""

from __future__ import annotations

from typing import Annotated, Literal

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction


# Factor to the base unit of each dimension.
_UNITS: dict[str, tuple[str, float]] = {
    'mm': ('length', 0.001), 'cm': ('length', 0.01), 'm': ('length', 1.0), 'km': ('length', 1000.0),
    'in': ('length', 0.0254), 'ft': ('length', 0.3048), 'yd': ('length', 0.9144), 'mi': ('length', 1609.344),
    'mg': ('mass', 1e-6), 'g': ('mass', 0.001), 'kg': ('mass', 1.0), 't': ('mass', 1000.0),
    'oz': ('mass', 0.028349523125), 'lb': ('mass', 0.45359237),
    'ml': ('volume', 0.001), 'l': ('volume', 1.0), 'gal': ('volume', 3.785411784), 'cup': ('volume', 0.2365882365),
    's': ('time', 1.0), 'min': ('time', 60.0), 'h': ('time', 3600.0), 'day': ('time', 86400.0),
    'week': ('time', 604800.0),
    'm/s': ('speed', 1.0), 'km/h': ('speed', 1 / 3.6), 'mph': ('speed', 0.44704), 'kn': ('speed', 0.514444),
    'c': ('temperature', 1.0), 'f': ('temperature', 1.0), 'k': ('temperature', 1.0),
}
UnitName = Literal['mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mi', 'mg', 'g', 'kg', 't', 'oz', 'lb', 'ml', 'l',
                   'gal', 'cup', 's', 'min', 'h', 'day', 'week', 'm/s', 'km/h', 'mph', 'kn', 'c', 'f', 'k']


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    a, b = from_unit.lower(), to_unit.lower()
    if a not in _UNITS or b not in _UNITS:
        raise ValueError(f'unknown unit {a if a not in _UNITS else b!r}')
    if _UNITS[a][0] != _UNITS[b][0]:
        raise ValueError(f'cannot convert {_UNITS[a][0]} ({a}) to {_UNITS[b][0]} ({b})')
    if _UNITS[a][0] == 'temperature':
        kelvin = {'c': lambda v: v + 273.15, 'f': lambda v: (v - 32) * 5 / 9 + 273.15, 'k': lambda v: v}[a](value)
        out = {'c': lambda k: k - 273.15, 'f': lambda k: (k - 273.15) * 9 / 5 + 32, 'k': lambda k: k}[b](kelvin)
    else:
        out = value * _UNITS[a][1] / _UNITS[b][1]
    return round(out, 6)


class UnitConverter(AgentlabAction):
    """Convert a quantity between units of length, mass, volume, time, speed or temperature."""

    @tool_api
    def run(self, value: Annotated[float, 'the quantity to convert'],
            from_unit: Annotated[UnitName, 'unit of the value, e.g. km, lb, f'],
            to_unit: Annotated[UnitName, 'unit to convert to, e.g. mi, kg, c']) -> dict:
        """Convert a quantity between units of length, mass, volume, time, speed or temperature.

        Args:
            value (float): the quantity to convert
            from_unit (str): unit of the value, e.g. km, lb, f
            to_unit (str): unit to convert to, e.g. mi, kg, c
        """
        return {'value': convert_units(float(value), from_unit, to_unit), 'unit': to_unit}

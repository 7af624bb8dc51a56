"""Procedures: the policy of a run, as generators of actions and events (see app.actions).

- :mod:`app.procedures.search`: find the exposure that puts the level on target.
- :mod:`app.procedures.panel_flats`: one filter's flats at a steady light.
- :mod:`app.procedures.brightness`: choose a dimmable panel's brightness per filter.
- :mod:`app.procedures.dark_flats`: darks at every flat exposure, the light off.
- :mod:`app.procedures.sequence`: every filter in wheel order, then the dark flats.
"""

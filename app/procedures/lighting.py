"""Light and dark for flats, by the kind of panel (and cover) the rig has.

- A Flip-Flat (a panel that is its own cover) lights the scope only when closed over
  it: flats need cover closed + light on; dark flats cover closed + light off.
- A dust cover without light (Flip-Mask): open for flats from another light, closed
  for dark flats.
- A panel without cover (Flat-Man, FlatMaster, a screen): only its light switches.
- No panel: the user covers the scope by hand for dark flats.
"""

from __future__ import annotations

from app.actions import AskUser, Procedure, SetBrightness, SetCover, SetLight
from app.events import Notice
from app.rig import PanelFacts

COVER_BY_HAND = ("cover the scope so no light reaches the sensor (cap, or the panel off "
                 "and covered) for the dark flats")


def light_up(panel: PanelFacts | None, brightness: int | None) -> Procedure:
    """Make the flat light reach the sensor."""
    if panel is None:
        return
    if panel.has_cover:
        closed = panel.lights_only_when_closed and panel.has_light
        yield Notice("closing the panel over the scope" if closed else "opening the cover")
        yield SetCover(closed=closed)
    if panel.has_light:
        if brightness is not None:
            yield SetBrightness(brightness)
        yield SetLight(True)


def darken(panel: PanelFacts | None) -> Procedure:
    """Keep every light from the sensor (dark flats)."""
    if panel is None:
        yield Notice(COVER_BY_HAND)
        yield AskUser(COVER_BY_HAND)
        return
    if panel.has_light:
        yield SetLight(False)
    if panel.has_cover:
        yield SetCover(closed=True)
    elif not panel.has_light:
        yield AskUser(COVER_BY_HAND)


def finish_lighting(panel: PanelFacts | None, open_cover: bool) -> Procedure:
    """After the job: light off, and the cover opened again when asked."""
    if panel is None:
        return
    if panel.has_light:
        yield SetLight(False)
    if panel.has_cover and open_cover:
        yield SetCover(closed=False)

"""Every default a flat run uses, in one place (CLI, GUI, session and solver read them here)."""

from __future__ import annotations

#: target mean as a percentage of full scale
TARGET_PERCENT = 50.0
#: allowed deviation from the target, % of the target
TOLERANCE_PERCENT = 5.0
#: the longest flat exposure a search may try, s
MAX_EXPOSURE_S = 120.0
#: test frames a search may take before it gives up
MAX_TEST_FRAMES = 12
#: flats in a row that may leave the tolerance before the run stops
MAX_REJECTED_FLATS = 5
#: share of a channel's pixels that may be clipped in an accepted flat (hot pixels)
CLIPPED_SHARE_MAX = 0.001
#: share of full scale above which a mean counts as outside the linear range
LINEAR_CEILING_SHARE = 0.85
#: a colour channel whose mean is below this share of full scale gets a warning
WEAK_CHANNEL_SHARE = 0.15
#: departure from a straight line that counts as non-linear (share of the signal)
NONLINEAR_DEPARTURE = 0.01
#: the flat-exposure window in brightness mode, s (PWM flicker below, patience above)
MIN_FLAT_EXPOSURE_S = 1.0
MAX_FLAT_EXPOSURE_S = 10.0
#: how long a cover may take to close or open, s (peers allow 10-30 s)
COVER_TIMEOUT_S = 30.0
#: how long a filter wheel may take to arrive, s
WHEEL_TIMEOUT_S = 60.0
#: the shortest sky flat unless --min-exposure says otherwise, s (shutter effects)
SKY_MIN_EXPOSURE_S = 1.0

"""Read a TOML file with errors a user can act on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from drivers.errors import InvalidValueError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse ``path``; a missing or malformed file raises a one-line error."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidValueError(f"{what}: file {str(path)!r} not found; check the path") from None
    except IsADirectoryError:
        raise InvalidValueError(f"{what}: {str(path)!r} is a folder; name a .toml file") from None
    except PermissionError:
        raise InvalidValueError(
            f"{what}: cannot read {str(path)!r}; check its permissions"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidValueError(f"{what}: {str(path)!r} is not valid TOML ({error})") from None
    except UnicodeDecodeError:
        raise InvalidValueError(f"{what}: {str(path)!r} is not a text TOML file") from None

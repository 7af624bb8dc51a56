# autoflats: `make run` and `make test` are all a fresh machine needs (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench sim-run gui-stall reliability screenshot screenshots clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The real ZWO SDK library, from the pyzwoasi wheel, without its OpenCV deps.
	-$(BIN)/python -m pip install --quiet --no-deps 'pyzwoasi>=0.2.7'
	touch $(STAMP)

venv: $(STAMP)

# Opens the Auto flats window (the simulator is always in the camera list).
run: $(STAMP)
	$(BIN)/autoflats gui $(ARGS)

# A simulated auto-flats run in the terminal, into ./flats-sim.
sim-run: $(STAMP)
	$(BIN)/autoflats flats --camera sim --count 10 --out flats-sim

# Worst GUI-thread stall while capturing 26 MP frames on the simulator.
gui-stall: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.gui_stall --size 6248x4176

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check app drivers tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The four benchmarks, each also alone as python -m bench.stats / .convergence /
# .capture / .gui_stall (--json, --size WxH). ARGS=--quick: small sizes; ARGS=--json.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# The fault campaign over the simulator; rewrites docs/reliability.md.
reliability: $(STAMP)
	$(BIN)/python -m tests.fault_campaign --runs 20

# The README screenshot (docs/screenshot.png): the window after a simulated colour run.
screenshot: $(STAMP)
	AUTOFLATS_SCREENSHOT=$(CURDIR)/docs/screenshot.png QT_QPA_PLATFORM=offscreen \
		$(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/gui/test_screenshot_and_stall.py::test_screenshot

# The README's pictures of both themes (night mode dimmed, a long output folder, the log
# with a whole exposure search): docs/screenshot-dark.png and docs/screenshot-night.png.
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.gui.screenshots docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

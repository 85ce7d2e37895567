# The README's commands. Each one sets up the machine first (scripts/bootstrap.sh).
PY := .venv/bin/python

.PHONY: setup test lint demo bench chaos soundness fuzz clean

setup:
	@bash scripts/bootstrap.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

LEAK := the 2019 China Telecom self-registration client sends IMEI, IMSI, ICCID, cell ID and Wi-Fi MAC to zzhc.vnet.cn
BLIND := the XTRA daemon goes around the proxy: the regular capture cannot read it (the gateway capture can)

# pytest keeps its assertion-rewritten modules beside the sources: written once, read by every worker
unexport PYTHONDONTWRITEBYTECODE

# the tests mostly wait on device time (a virtual handset's clock, its boots): four workers keep two
# cores busy, an idle worker takes half of a busy one's queue (worksteal; tests/conftest.py hands out
# the long files first), and mypy reads the code beside them; its verdict is printed and checked at
# the end. One collection first writes the rewritten modules that the workers then read
test: setup
	.venv/bin/ruff check .
	@.venv/bin/mypy > .mypy.out 2>&1 & mypy=$$!; \
	$(PY) -m pytest -q --collect-only -p no:xdist tests suites > /dev/null; \
	$(PY) -m pytest -q -n 4 -p xdist --dist worksteal tests; tests=$$?; \
	wait $$mypy; types=$$?; echo "mypy:"; cat .mypy.out; rm -f .mypy.out; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]
	# the suites, on two builds side by side (two workers each: the lab's four handsets), each
	# printed when it ends. The build a release would ship leaks nothing the lab can read, but the
	# lab cannot read all of it: every privacy suite must end inconclusive. The build that leaked in
	# 2019: every privacy suite must fail on it (strict expected failures)
	@$(PY) -m pytest -q -n 2 -p xdist suites --build nokia7plus-00WW_3_22C_SP05 \
		--expect-inconclusive "$(BLIND)" > .suites-fixed.out 2>&1 & fixed=$$!; \
	$(PY) -m pytest -q -n 2 -p xdist suites --build nokia7plus-00WW_3_22C \
		--expect-leak "$(LEAK)" > .suites-leaky.out 2>&1 & leaky=$$!; \
	wait $$fixed; a=$$?; echo "suites on nokia7plus-00WW_3_22C_SP05:"; cat .suites-fixed.out; \
	wait $$leaky; b=$$?; echo "suites on nokia7plus-00WW_3_22C:"; cat .suites-leaky.out; \
	rm -f .suites-fixed.out .suites-leaky.out; [ $$a -eq 0 ] && [ $$b -eq 0 ]

demo: setup
	$(PY) -m devicelab demo

bench: setup
	$(PY) -m pytest -q -m bench -p no:xdist -s tests/bench/test_bench_table.py

# the proof that the gate never passes blind: every blind spot forced on the leaky and the fixed
# build, every hostile build (fixtures/builds/hostile/) gated; RUNS=N runs per row. Exit 1 on an
# unexplained pass or a hang
soundness: setup
	$(PY) -m devicelab.virtual.soundness --runs $(or $(RUNS),1)

# every fault injected into gate runs on a build that passes: RUNS=N runs per fault
chaos: setup
	$(PY) -m devicelab.virtual.chaos --runs $(or $(RUNS),3)

fuzz: setup
	for target in body quiet capture; do \
		$(PY) tests/fuzz/fuzz_inputs.py $$target -max_total_time=600 -rss_limit_mb=4096 || exit 1; \
	done

clean:
	rm -rf .venv .mypy_cache .ruff_cache reports/*/ 

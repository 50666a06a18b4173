# Thin wrappers: dev.py does the work, so a machine without make works too.
.PHONY: run test bench lint
run:
	python3 dev.py run
test:
	python3 dev.py test
bench:
	.venv/bin/python -m bench
lint:
	.venv/bin/ruff check .

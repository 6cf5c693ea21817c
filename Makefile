.PHONY: run test bench

run:    ## run the gateway on the embedded defaults (SQLite, in-process cache)
	scripts/run.sh

test:   ## run the test suite on the embedded defaults, then on MariaDB + Redis
	scripts/test.sh

bench:  ## the side-by-side benchmark (not part of the tests)
	bench/run.sh

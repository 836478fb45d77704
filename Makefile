# Every target loops over the modules listed in go.work.
.PHONY: test fast check tidy fuzz

test:   ## build, vet and test (-race) every module, in the workspace and with GOWORK=off
	./scripts/each-module.sh test

fast:   ## the same, workspace only
	./scripts/each-module.sh fast

check:  ## gofmt, vet, tidy; no tests
	./scripts/each-module.sh check

tidy:   ## go mod tidy in every module
	./scripts/each-module.sh tidy

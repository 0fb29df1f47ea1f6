.PHONY: test
test:
	./scripts/test.sh

from bench.cli.main import entry

entry()

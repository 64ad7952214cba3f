from bench.cli.main import entry

if __name__ == "__main__":  # multiprocessing's spawn and fork server import the main module again
    entry()

import sys

# The guard matters: spawned workers import this module again and must not start a run.
if __name__ == "__main__":
    try:
        from profiler.commands import main
    except KeyboardInterrupt:  # Ctrl-C while the tool loads: nothing was started yet
        sys.stderr.write("interrupted: stopped by Ctrl-C\n")
        sys.exit(130)
    sys.exit(main())

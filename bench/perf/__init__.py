"""The benchmark commands behind `bench perf`: they print figures beside their targets and assert
nothing (speed is never checked by timed unit tests)."""

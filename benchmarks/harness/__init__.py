"""What the tests and the benchmarks both drive the app with: ``launcher`` (the app in its own
process), ``pad`` (Playwright on the drawing pad), ``digits`` (MNIST digits redrawn as a visitor's
pictures) and ``strokes`` (a digit as pen strokes). Here, not in tests/, so that a benchmark never
imports the test suite: tests import from this package, never the other way round."""

package activities

// ScrubReaderForTest exposes scrubReader to the external tests.
var ScrubReaderForTest = scrubReader

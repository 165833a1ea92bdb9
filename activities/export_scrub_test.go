package activities

// ScrubReaderForTest exposes scrubReader to the external tests.
var ScrubReaderForTest = scrubReader

// RenderWithSecretsForTest exposes renderWithSecrets to the fuzz test.
var RenderWithSecretsForTest = renderWithSecrets

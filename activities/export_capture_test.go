package activities

// Hooks for the external tests of this package.
var (
	HostCapture        = (*Host).capture
	IsSessionStatement = isSessionStatement
)

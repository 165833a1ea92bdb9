package activities

// HostCapture lets external tests run Host.capture.
var HostCapture = (*Host).capture

package activities

// LocalCommand exports localCommand to the external tests.
var LocalCommand = localCommand

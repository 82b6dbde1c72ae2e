package targets

import (
	"io"
	"os"
)

// stdout is where targets write: Mage's front end prints, the library
// (pkg/deploy) is given a writer.
var stdout io.Writer = os.Stdout

// SetOutput sends what the targets print to w instead of standard output,
// for programs that run them (benchmarks, tests); it returns the old one.
func SetOutput(w io.Writer) io.Writer {
	old := stdout
	stdout = w
	return old
}

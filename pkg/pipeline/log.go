package pipeline

// Log keys, constant so that log queries keep working.
const (
	keyRun     = "run_id"
	keyStage   = "stage"
	keyAttempt = "attempt"
	keyStream  = "stream"
	keyHost    = "host"
	keyErr     = "error"
	keyWait    = "wait"
)

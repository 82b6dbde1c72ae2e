//go:build !linux

package proc

import "syscall"

// setParentDeathSignal does nothing where there is no parent-death signal;
// the supervisor alone stops the tool.
func setParentDeathSignal(*syscall.SysProcAttr) {}

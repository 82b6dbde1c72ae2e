package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
)

// supervisorScript reads the tool's process group, then waits for "done".
// End of input without it means baton is gone: kill the group.
const supervisorScript = `read -r pgid || exit 0
read -r done && exit 0
kill -s KILL -- "-$pgid" 2>/dev/null
exit 0`

// Shell is the shell the supervisor runs in.
var Shell = "/bin/sh"

// Process is a started tool. Its Wait must be called.
type Process struct {
	cmd  *exec.Cmd
	sup  *exec.Cmd
	pipe *os.File // write end of the supervisor's input
	done chan error
}

// Start starts cmd in a process group of its own, tied to the life of this
// process (see the package documentation). cmd.SysProcAttr is kept and
// extended. The caller must not call cmd.Start, cmd.Wait or cmd.Run; it
// calls the returned Process's Wait instead. cmd.Process is set once Start
// returns, and the tool's process group ID is its PID.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)

	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	sup := exec.Command(Shell, "-c", supervisorScript)
	sup.Stdin = r
	// A group of its own: neither a Ctrl-C in the terminal nor a kill of
	// baton's group or of the tool's reaches it.
	sup.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = sup.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start supervisor %s: %w", Shell, err)
	}
	p := &Process{cmd: cmd, sup: sup, pipe: w, done: make(chan error, 1)}

	started := make(chan error, 1)
	go func() {
		// The thread that forks the tool must live as long as the tool:
		// the parent-death signal is sent when it exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		p.release(false)
		return nil, err
	}
	if _, err := w.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n"); err != nil {
		// Without a supervisor the parent-death signal still stops the
		// tool itself; stop it now rather than run it half-guarded.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr := <-p.done
		p.release(false)
		return nil, errors.Join(fmt.Errorf("supervisor: %w", err), werr)
	}
	return p, nil
}

// Wait waits for the tool to exit, as exec.Cmd's Wait does, and then ends
// its supervisor without letting it kill anything.
func (p *Process) Wait() error {
	err := <-p.done
	p.release(true)
	return err
}

// release ends the supervisor: with "done" it exits quietly; without, it
// kills the group it was given, if any.
func (p *Process) release(done bool) {
	if done {
		_, _ = p.pipe.WriteString("done\n")
	}
	p.pipe.Close()
	_ = p.sup.Wait()
}

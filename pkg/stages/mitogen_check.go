package stages

import (
	"context"
	"fmt"
)

// CheckMitogen says whether Mitogen can run the ansible-playbook at bin:
// its ansible-core, where Mitogen is and the releases it supports. The
// error wraps ErrMitogenUnsupported when Mitogen is missing or does not
// support that ansible-core.
func CheckMitogen(ctx context.Context, bin string) (string, error) {
	info, err := probeMitogen(ctx, bin, nil)
	if err != nil {
		return "", err
	}
	if err := info.supported(); err != nil {
		return "", err
	}
	return fmt.Sprintf("ansible-core %s with the Mitogen in %s, which supports %d.%d to %d.%d",
		info.Ansible, info.Dir, info.Min[0], info.Min[1], info.Max[0], info.Max[1]), nil
}

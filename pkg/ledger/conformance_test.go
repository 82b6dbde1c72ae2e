package ledger_test

import (
	"path/filepath"
	"testing"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/ledger/ledgertest"
)

func TestFileConformance(t *testing.T) {
	dir := t.TempDir()
	ledgertest.Run(t, func(t *testing.T, env string) ledger.Ledger {
		f, err := ledger.Open(filepath.Join(dir, t.Name(), env))
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}

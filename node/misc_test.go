package node_test

import (
	"context"
	"errors"
	"os"
)

var errFakePull = errors.New("registry says no")

func filepathStat(p string) (os.FileInfo, error) { return os.Stat(p) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

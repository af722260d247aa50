//go:build !linux

package watch

import (
	"context"
	"errors"
)

func (w *watcher) run(ctx context.Context) {
	w.emit(errorEvent("watch", errors.ErrUnsupported))
}

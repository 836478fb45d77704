//go:build !unix

package daemon

import (
	"fmt"
	"os"
	"os/signal"
)

// Run on systems without Unix processes supports start in the foreground
// only: it serves until interrupted, then stops gracefully.
func Run(cfg Config, hooks Hooks) error {
	cfg.setDefaults()
	if err := hooks.check(); err != nil {
		return err
	}
	if len(cfg.Args) == 0 || cfg.Args[0] != "start" || len(cfg.Args) > 1 {
		fmt.Fprint(cfg.Stderr, Usage(cfg.Name))
		return fmt.Errorf("%w: only start (in the foreground) is supported on this system", ErrUsage)
	}
	if err := hooks.Listen(nil); err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return fmt.Errorf("%w: listen: %w", ErrStartFailed, err)
	}
	if err := hooks.Serve(); err != nil {
		hooks.Stop(false, 0)
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return fmt.Errorf("%w: serve: %w", ErrStartFailed, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	<-sigs
	hooks.Stop(true, cfg.GracefulTimeout)
	return nil
}

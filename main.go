// Command artifactapi is a caching artifact proxy and Docker registry mirror.
package main

//go:generate go run ./scripts/envdoc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"artifactapi/app"
	"artifactapi/app/config"
	"artifactapi/app/logx"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags every command accepts, before or after its name.
type options struct {
	listen, remotes string
	url             string // healthcheck
}

func newFlags(name string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed by cli
	fs.StringVar(&o.listen, "listen", "", "listen address (overrides LISTEN_ADDR/PORT)")
	fs.StringVar(&o.remotes, "config", "", "remotes file (overrides REMOTES_CONFIG)")
	fs.StringVar(&o.url, "url", "", "healthcheck: the URL to ask (default http://127.0.0.1:$PORT/health)")
	return fs
}

// cli runs the command named by args and returns the exit status:
// 0 success (and help), 1 failure, 2 a usage error.
func cli(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlags("artifactapi", &o)
	bad := func(err error) int {
		fmt.Fprintf(stderr, "artifactapi: %v\n\n", err)
		usage(stderr, fs)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return 0
		}
		return bad(err)
	}
	cmd := fs.Arg(0)
	var rest []string
	if fs.NArg() > 0 {
		// Flags may follow the command too: "serve --listen :9000", "check-config --help".
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage(stdout, fs)
				return 0
			}
			return bad(err)
		}
		rest = fs.Args()
	}
	if o.listen != "" {
		os.Setenv("LISTEN_ADDR", o.listen)
	}
	if o.remotes != "" {
		os.Setenv("REMOTES_CONFIG", o.remotes)
	}
	switch cmd {
	case "help":
		usage(stdout, fs)
		return 0
	case "check-config":
		if len(rest) > 1 {
			return bad(fmt.Errorf("check-config takes one file, got %q", rest))
		}
		file := ""
		if len(rest) == 1 {
			file = rest[0]
		}
		return checkConfig(file, stdout, stderr)
	case "healthcheck":
		if len(rest) > 0 {
			return bad(fmt.Errorf("unexpected argument %q", rest[0]))
		}
		return healthcheck(o.url, stderr)
	case "backup", "restore":
		if len(rest) != 1 {
			return bad(fmt.Errorf("%s takes one directory, got %q", cmd, rest))
		}
		return backupOrRestore(cmd, rest[0], stderr)
	case "migrate":
		if len(rest) > 0 {
			return bad(fmt.Errorf("unexpected argument %q", rest[0]))
		}
		return migrate(stderr)
	case "", "serve":
		if len(rest) > 0 {
			return bad(fmt.Errorf("unexpected argument %q", rest[0]))
		}
		return run(stderr)
	}
	return bad(fmt.Errorf("unknown command %q", cmd))
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `artifactapi — caching artifact proxy and Docker registry mirror

Usage:
  artifactapi [flags] [serve]            serve (default)
  artifactapi check-config [FILE]        validate a remotes file and exit: 0 valid, 1 invalid or unreadable
                                         (FILE defaults to --config, $REMOTES_CONFIG or remotes.yaml)
  artifactapi [flags] migrate            apply database migrations and exit
  artifactapi backup DIR                 copy the metadata store and the objects it references to DIR
                                         (new or empty); the server may keep running (docs/operations.md)
  artifactapi restore DIR                load a backup into an empty metadata store and a blob store
                                         (the configured ones; no server running on them)
  artifactapi healthcheck [--url URL]    exit 0 when URL (default http://127.0.0.1:$PORT/health) answers 200
                                         within 5s, else 1: a container health check without a shell
  artifactapi help                       this text (also -h, --help after any command)

Flags (before or after the command):
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nEnvironment:\n")
	for _, v := range config.EnvVars {
		def := ""
		if v.Default != "" {
			def = " (default " + v.Default + ")"
		}
		sec := ""
		if v.Secret {
			sec = " [secret: a value you set is never logged or shown]"
		}
		fmt.Fprintf(w, "  %-26s %s%s%s\n", v.Name, v.Help, def, sec)
	}
}

func checkConfig(file string, stdout, stderr io.Writer) int {
	if file == "" {
		file = os.Getenv("REMOTES_CONFIG")
	}
	if file == "" {
		file = "remotes.yaml"
	}
	f, err := config.LoadRemotesFile(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK, %d remotes (%s)\n", file, len(f.Remotes), strings.Join(f.Names(), ", "))
	return 0
}

func healthcheck(url string, stderr io.Writer) int {
	if url == "" {
		url = app.HealthURL(os.Getenv)
	}
	if err := app.Healthcheck(context.Background(), url, 5*time.Second); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// envAndLog reads the environment alone (the maintenance commands need no
// remotes file) and returns a logger on stderr that hides its secrets.
func envAndLog(stderr io.Writer) (config.Env, *slog.Logger, func(), error) {
	env, err := config.LoadEnv(os.Getenv)
	if err != nil {
		return env, nil, nil, err
	}
	out := logx.NewWriter(stderr)
	log := logx.New(out, env.LogFormat, env.LogLevel, (&config.Config{Env: env}).Secrets())
	return env, log, func() { _ = out.Close() }, nil
}

// migrate needs the environment only: a migration Job mounts no remotes file.
func migrate(stderr io.Writer) int {
	env, log, closeLog, err := envAndLog(stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer closeLog()
	if err := app.Migrate(context.Background(), env, log); err != nil {
		log.Error("migration failed", "err", err)
		return 1
	}
	return 0
}

func backupOrRestore(cmd, dir string, stderr io.Writer) int {
	env, log, closeLog, err := envAndLog(stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	op := app.Backup
	if cmd == "restore" {
		op = app.Restore
	}
	if _, err := op(ctx, env, dir, log); err != nil {
		log.Error(cmd+" failed", "err", err)
		return 1
	}
	return 0
}

func run(stderr io.Writer) int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Lines are batched on their way to stderr and flushed on every return.
	out := logx.NewWriter(stderr)
	defer out.Close()
	log := logx.New(out, cfg.Env.LogFormat, cfg.Env.LogLevel, cfg.Secrets())
	if m := app.SetMemoryLimit(os.Getenv, os.ReadFile); m != "" {
		log.Info("runtime: " + m)
	}
	reserve, m := app.HeapFloor(cfg.Env.GCHeapFloor, os.Getenv)
	defer runtime.KeepAlive(reserve)
	if m != "" {
		log.Info("runtime: " + m)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
	ln, err := app.Listen(cfg.Env.ListenAddr)
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
	stopReload := a.WatchReload(ctx)
	defer stopReload()
	log.Info("listening", "addr", ln.Addr().String(), "remotes", len(cfg.Remotes.Remotes), "version", app.Version)
	if err := a.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

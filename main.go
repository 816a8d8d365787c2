// Command artifactapi is a caching artifact proxy and Docker registry mirror.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"artifactapi/app"
	"artifactapi/app/config"
	"artifactapi/app/logx"
)

func usage() {
	w := flag.CommandLine.Output()
	fmt.Fprintf(w, `artifactapi — caching artifact proxy and Docker registry mirror

Usage:
  artifactapi [flags]               serve (default)
  artifactapi check-config [FILE]   validate a remotes file (default: $REMOTES_CONFIG or remotes.yaml)
  artifactapi migrate               apply database migrations and exit

Flags:
`)
	flag.PrintDefaults()
	fmt.Fprintf(w, "\nEnvironment:\n")
	for _, v := range config.EnvVars {
		def := ""
		if v.Default != "" {
			def = " (default " + v.Default + ")"
		}
		sec := ""
		if v.Secret {
			sec = " [secret: never logged or shown]"
		}
		fmt.Fprintf(w, "  %-26s %s%s%s\n", v.Name, v.Help, def, sec)
	}
}

func main() {
	flag.Usage = usage
	listen := flag.String("listen", "", "listen address (overrides LISTEN_ADDR/PORT)")
	remotes := flag.String("config", "", "remotes file (overrides REMOTES_CONFIG)")
	flag.Parse()
	if *listen != "" {
		os.Setenv("LISTEN_ADDR", *listen)
	}
	if *remotes != "" {
		os.Setenv("REMOTES_CONFIG", *remotes)
	}
	switch flag.Arg(0) {
	case "check-config":
		os.Exit(checkConfig(flag.Arg(1)))
	case "migrate":
		os.Exit(run(true))
	case "", "serve":
		os.Exit(run(false))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n", flag.Arg(0))
		usage()
		os.Exit(2)
	}
}

func checkConfig(file string) int {
	if file == "" {
		file = os.Getenv("REMOTES_CONFIG")
	}
	if file == "" {
		file = "remotes.yaml"
	}
	f, err := config.LoadRemotesFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: OK, %d remotes (%s)\n", file, len(f.Remotes), strings.Join(f.Names(), ", "))
	return 0
}

func run(migrateOnly bool) int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Lines are batched on their way to stderr and flushed on every return.
	out := logx.NewWriter(os.Stderr)
	defer out.Close()
	log := logx.New(out, cfg.Env.LogFormat, cfg.Env.LogLevel, cfg.Secrets())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
	if migrateOnly {
		log.Info("migrations applied")
		_ = a.Shutdown()
		return 0
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

// Command labsim is the vMotion Labs simulator: a vCenter simulator built on
// govmomi's simulator package. It serves one inventory on one address until it
// is told to stop, and announces itself with the line vcsim prints:
//
//	export GOVC_URL=https://user:password@127.0.0.1:PORT/sdk GOVC_SIM_PID=PID
//
// Flags follow vcsim's names where the two overlap, so tooling that starts one
// can start the other.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

type options struct {
	listen   string
	load     string
	useTLS   bool
	certFile string
	keyFile  string
	username string
	password string
	pageSize int
	dsGiB    int
	scenario string
	migrate  float64
	counts   counts

	timeScale float64
}

// timeScaleFlag: -time-scale was given, and wins over the scenario's timeScale.
var timeScaleFlag bool

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("labsim", flag.ContinueOnError)
	fs.StringVar(&o.listen, "l", "127.0.0.1:8989", "listen address host:port (port 0 picks a free port)")
	fs.StringVar(&o.load, "load", "", "load the inventory from a directory of ObjectContent XML files (govc object.save format)")
	fs.BoolVar(&o.useTLS, "tls", true, "serve HTTPS")
	fs.StringVar(&o.certFile, "tlscert", "", "PEM certificate file for -tls (default: a built-in localhost certificate)")
	fs.StringVar(&o.keyFile, "tlskey", "", "PEM private key file for -tlscert")
	fs.StringVar(&o.username, "username", "", "the only user name the simulator accepts (required)")
	fs.StringVar(&o.password, "password", "", "the only password the simulator accepts (required)")
	fs.IntVar(&o.pageSize, "page-size", defaultPageSize, "objects per RetrievePropertiesEx page when the client sets no maxObjects")
	fs.IntVar(&o.dsGiB, "ds-capacity", 2048, "capacity of every datastore, GiB (0 keeps the host disk's numbers)")
	fs.StringVar(&o.scenario, "scenario", "", "build the inventory from a scenario file (JSON, written by labkit)")
	fs.Float64Var(&o.migrate, "migration-seconds", defaultMigrationSeconds, "how long a migration the pre-copy model does not time runs (cold, suspended, storage), real seconds")
	fs.Float64Var(&o.timeScale, "time-scale", 0, fmt.Sprintf("simulated seconds per real second (default: the scenario's timeScale, else %g)", defaultTimeScale))
	o.counts.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.timeScale < 0 || (o.timeScale > 0 && o.timeScale < 0.001) || o.timeScale > 1e6 {
		return nil, fmt.Errorf("-time-scale must be between 0.001 and 1000000 simulated seconds per real second")
	}
	fs.Visit(func(f *flag.Flag) { timeScaleFlag = timeScaleFlag || f.Name == "time-scale" })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.username == "" || o.password == "" {
		// govmomi's default login accepts any non-empty pair; the lab wants a real check.
		return nil, fmt.Errorf("-username and -password are both required")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, fmt.Errorf("-tlscert and -tlskey go together")
	}
	if o.pageSize < 1 {
		return nil, fmt.Errorf("-page-size must be at least 1")
	}
	return o, nil
}

func run(o *options) error {
	var sc *scenario
	if o.scenario != "" {
		var err error
		if sc, err = readScenario(o.scenario); err != nil {
			return err
		}
		root, err := labRoot()
		if err != nil {
			return err
		}
		defer os.RemoveAll(root)
		o.counts = counts{} // the scenario builds the whole inventory
		if sc.Generate != nil {
			o.counts = generatedCounts(sc.Generate)
		}
	}
	lab.migration = o.migrate
	if o.timeScale > 0 {
		lab.timeScale = o.timeScale
	}
	model, err := buildModel(o)
	if err != nil {
		return err
	}
	defer model.Remove()

	if sc != nil && sc.VCenter != nil {
		presentVCenter(*sc.VCenter)
	}
	if o.dsGiB > 0 && sc == nil {
		setDatastoreCapacity(o.dsGiB)
	}
	installTaskManager()
	installPagingCollector(o.pageSize)
	installProvisioningChecker()
	installEventTexts()
	installDiagnosticManager()

	model.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}
	if o.useTLS {
		cfg, err := tlsConfig(o.certFile, o.keyFile)
		if err != nil {
			return err
		}
		model.Service.TLS = cfg
	}

	server := model.Service.NewServer()
	defer server.Close()
	server.Config.Handler = routingHandler{next: server.Config.Handler, user: o.username, password: o.password}
	if sc != nil {
		if err := loadScenario(sc, o.username, o.dsGiB); err != nil {
			return err
		}
	}

	// The announcement doubles as the readiness signal: the listener is open.
	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", server.URL.String(), os.Getpid())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	sig := <-stop
	log.Printf("labsim: %s received, shutting down", sig)
	return nil
}

// scratchInMemory gives the simulator a scratch folder of its own in /dev/shm, as TMPDIR, when the caller set
// none and /dev/shm takes one; it returns the folder ("" when on the default). The engine keeps each datastore
// in a temporary directory and writes an empty placeholder for every file of every VM (configuration, disks,
// NVRAM); on a disk those creates were most of the time a large world took to start (benchmarks/world_start.py),
// in memory they cost a few inodes. The folder goes when the simulator stops; one left by a simulator that was
// killed goes at the next start, so that memory does not fill with them.
func scratchInMemory() string {
	if os.Getenv("TMPDIR") != "" {
		return ""
	}
	const prefix = "/dev/shm/labsim-scratch-"
	if old, err := filepath.Glob(prefix + "*"); err == nil {
		for _, d := range old {
			pid, err := strconv.Atoi(strings.TrimPrefix(d, prefix))
			if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
				os.RemoveAll(d)
			}
		}
	}
	dir := prefix + strconv.Itoa(os.Getpid())
	if err := os.Mkdir(dir, 0o700); err != nil {
		return ""
	}
	os.Setenv("TMPDIR", dir)
	return dir
}

func main() {
	log.SetFlags(0)
	os.Exit(serve(scratchInMemory()))
}

// serve runs the simulator and gives its exit status; the scratch folder goes with it.
func serve(scratch string) int {
	if scratch != "" {
		defer os.RemoveAll(scratch)
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(os.Stderr, "labsim:", err)
		return 2
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "labsim:", err)
		return 1
	}
	return 0
}

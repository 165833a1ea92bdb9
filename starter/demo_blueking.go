package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/internal/lab"
	"upgrader/workflows"
)

// blueKingDemoLab starts the BlueKing lab (four sshd hosts in mount
// namespaces of their own, MariaDB, FerretDB, the stand-ins; needs root and
// yq from scripts/build-tools.sh), points the worker config at it and
// returns the 6.1 → 6.2 upgrade of that site.
func blueKingDemoLab(o demoOptions, cfg *config.Worker, log io.Writer) (in *workflows.BlueKingInput, stop func(), err error) {
	h, _ := freshDemoLab(o, "blueking", log)
	yq, err := lab.ToolBin("yq", "v4.44.3")
	if err != nil {
		return nil, nil, err
	}
	started := false
	defer func() {
		if !started {
			h.Stop()
		}
	}()
	db, err := lab.StartMariaDB(h)
	if err != nil {
		return nil, nil, fmt.Errorf("the lab's MariaDB did not start: %w", err)
	}
	mongo, err := lab.StartFerretDB(h)
	if err != nil {
		return nil, nil, fmt.Errorf("the lab's FerretDB did not start: %w", err)
	}
	site, err := lab.StartBlueKing(h, lab.BlueKingOptions{MariaDB: db, Mongo: mongo, YQ: yq})
	if err != nil {
		return nil, nil, fmt.Errorf("the BlueKing lab did not start: %w", err)
	}
	// Long enough to watch `bkcli upgrade job` and the mongodump run.
	_ = site.Delay("upgrade-job", 3)
	_ = site.Delay("mongodump", 2)

	cfg.Secrets = map[string]config.Secret{"bk-mysql-root": {Value: db.RootPassword}}
	in = ptrTo(workflows.NewBlueKingInput())
	in.Environment = "lab"
	in.Control = site.Control.Name
	in.Hosts = config.Inventory{}
	in.LanIPs = map[string]string{}
	for _, bh := range append([]*lab.BlueKingHost{site.Control}, site.Hosts...) {
		ref := bh.Name + "-key"
		cfg.Secrets[ref] = config.Secret{Value: bh.ClientKeyPEM}
		in.Hosts[bh.Name] = config.Host{Address: bh.Addr, User: bh.User, KeyRef: ref,
			HostKey: strings.SplitN(bh.KnownHostLine, " ", 2)[1], Modules: bh.Modules}
		in.LanIPs[bh.Name] = bh.LanIP
	}
	in.Package = workflows.BlueKingPackage{Path: site.PackagePath, MD5: site.PackageMD5}
	in.MySQL = workflows.DBServer{Address: db.Addr, User: "root", PasswordRef: "bk-mysql-root"}
	in.MongoDB = workflows.BlueKingMongo{DBServer: workflows.DBServer{Address: site.MongoAddr}} // FerretDB: no users, no replica set
	in.IAMMigrateScriptURL = site.MigrateScriptURL
	in.CommandTimeout, in.JobUpgradeTimeout, in.DumpTimeout = contract.Duration(5*time.Minute), contract.Duration(5*time.Minute), contract.Duration(5*time.Minute)
	started = true
	return in, h.Stop, nil
}

func ptrTo[T any](v T) *T { return &v }

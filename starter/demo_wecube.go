package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/internal/lab"
	"upgrader/workflows"
)

// weCubeDemoLab starts the WeCube lab (a Docker Engine with the guide's
// four images built from the stand-in, two MariaDB servers seeded as a v3
// site, sshd as the host) and returns the v4.0.0 upgrade of that site in
// coexist mode.
func weCubeDemoLab(o demoOptions, cfg *config.Worker, log io.Writer) (in *workflows.WeCube400Input, stop func(), err error) {
	h, dir := freshDemoLab(o, "wecube", log)
	started := false
	defer func() {
		if !started {
			h.Stop()
		}
	}()
	site, err := lab.StartWeCubeSite(h, "v4.0.0")
	if err != nil {
		return nil, nil, fmt.Errorf("the WeCube lab did not start (it needs root, docker.io and docker-compose from .ci/run's packages): %w", err)
	}
	sshd, err := lab.StartSSHD(h)
	if err != nil {
		return nil, nil, fmt.Errorf("the lab's sshd did not start: %w", err)
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(fmt.Sprintf("%s\n%s\n", sshd.KnownHostLines[0], sshd.KnownHostLines[1])), 0o600); err != nil {
		return nil, nil, err
	}
	cfg.SSH.KnownHostsFiles = []string{known}
	cfg.Secrets = map[string]config.Secret{
		"wecube-host-key":              {Value: sshd.ClientKeyPEM},
		"wecube-jwt-signing-key":       {Value: site.JWTSigningKey},
		"wecube-mysql-wecube-password": {Value: site.CorePassword},
		"wecube-mysql-auth-password":   {Value: site.AuthPassword},
		"wecube-s3-access":             {Value: "lab-access"},
		"wecube-s3-secret":             {Value: "lab-s3-secret"},
		"wecube-host-password":         {Value: "lab-host-password"},
		"wecube-admin-password":        {Value: site.AdminPassword},
	}

	w := workflows.NewWeCube400Input()
	w.Environment, w.From = "lab", "v3.2.6"
	w.SharedPluginInstances = true
	w.Host = workflows.WeCubeSSH{Address: sshd.Addr, User: sshd.User, KeyRef: "wecube-host-key"}
	w.HostIP, w.DockerHost, w.DeployRoot = site.HostIP, site.Docker.Host, site.DeployRoot
	w.JWTSigningKeyRef = "wecube-jwt-signing-key"
	w.MySQL.WeCube = workflows.DBServer{Address: site.CoreDB.Addr, User: site.CoreUser, PasswordRef: "wecube-mysql-wecube-password"}
	w.MySQL.Auth = workflows.DBServer{Address: site.AuthDB.Addr, User: site.AuthUser, PasswordRef: "wecube-mysql-auth-password"}
	w.S3 = workflows.WeCubeS3{Address: site.HostIP + ":9000", AccessKeyRef: "wecube-s3-access", SecretKeyRef: "wecube-s3-secret"}
	w.StaticResource = workflows.WeCubeAccount{Username: "root", PasswordRef: "wecube-host-password"}
	w.DDL.Auth = workflows.WeCubeScript{Path: site.DDLAuth, SHA256: site.DDLAuthSum}
	w.DDL.WeCube = workflows.WeCubeScript{Path: site.DDLCore, SHA256: site.DDLCoreSum}
	w.Login = workflows.WeCubeAccount{Username: site.AdminUser, PasswordRef: "wecube-admin-password"}
	w.Waits.StableFor, w.Waits.Timeout = contract.Duration(3*time.Second), contract.Duration(2*time.Minute)
	started = true
	return &w, h.Stop, nil
}

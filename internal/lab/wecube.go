package lab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// wecubeDDL holds WeCube's two upgrade scripts as tag v4.0.0 of
// WeBankPartners/wecube-platform has them (Apache-2.0):
// platform-auth-server/deploy/db/upgrade/wecube_platform_auth_4.0.0.sql
// and platform-core/wiki/database/v4.0.0.sql, unchanged.
//
//go:embed wecube/*.sql
var wecubeDDL embed.FS

// WeCubeSite is a WeCube v3 site as the v4.0.0 guide finds it: its two
// MariaDB servers (auth_server and wecube, with the v3 tables the DDL
// touches, an admin account, plugins with running instances), a Docker
// Engine holding the four v4.0.0 images under the guide's names, and
// HOSTIP, a local address the containers reach the host at.
type WeCubeSite struct {
	HostIP string
	Docker *Docker
	// AuthDB and CoreDB are the two servers, on HOSTIP.
	AuthDB, CoreDB *MariaDB
	// The accounts the upgrade uses: each database's user and password,
	// the old WeCube's admin login, and the JWT signing key.
	AuthUser, AuthPassword   string
	CoreUser, CorePassword   string
	AdminUser, AdminPassword string
	JWTSigningKey            string
	// DDLAuth and DDLCore are the scripts on the worker, with their SHA-256.
	DDLAuth, DDLCore       string
	DDLAuthSum, DDLCoreSum string
	// Plugins maps each plugin with a running instance to its version.
	Plugins map[string]string
	// DeployRoot is the guide's /data/app/platform, in the lab's folder.
	DeployRoot string
}

// WeCubeImages are the guide's four images, built by StartWeCubeSite.
var WeCubeImages = map[string]string{
	"auth-server": "ccr.ccs.tencentyun.com/webankpartners/platform-auth-server",
	"core":        "ccr.ccs.tencentyun.com/webankpartners/platform-core",
	"gateway":     "ccr.ccs.tencentyun.com/webankpartners/platform-gateway",
	"portal":      "ccr.ccs.tencentyun.com/webankpartners/wecube-portal",
}

// StartWeCubeSite starts the site: HOSTIP on lo, dockerd, the images, both
// databases seeded as a v3 WeCube leaves them.
func StartWeCubeSite(l *Lab, version string) (*WeCubeSite, error) {
	if err := need("ip"); err != nil {
		return nil, err
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(200))
	s := &WeCubeSite{
		HostIP:   fmt.Sprintf("10.216.%d.1", n.Int64()+20),
		AuthUser: "wecube_auth", AuthPassword: "lab-Auth-db-pw-2231",
		CoreUser: "wecube_core", CorePassword: "lab-Core-db-pw-7740",
		AdminUser: "admin", AdminPassword: "lab-Admin-pw-5512",
		JWTSigningKey: "Platform+Auth+Server+Secret",
		Plugins:       map[string]string{"wecmdb": "v2.1.3", "monitor": "v2.0.9"},
	}
	// HOSTIP is a /32 on lo: the worker and sshd reach it, and so do the
	// containers (their packets to a local address are delivered, no NAT
	// needed); a 127/8 address would not be, from a container.
	if out, err := exec.Command("ip", "addr", "add", s.HostIP+"/32", "dev", "lo").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip addr add %s dev lo: %v: %s", s.HostIP, err, out)
	}
	l.Cleanup(func() { _ = exec.Command("ip", "addr", "del", s.HostIP+"/32", "dev", "lo").Run() })
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	s.DeployRoot = filepath.Join(dir, "data", "app", "platform")
	for _, f := range []struct {
		name      string
		path, sum *string
	}{{"wecube_platform_auth_4.0.0.sql", &s.DDLAuth, &s.DDLAuthSum}, {"v4.0.0.sql", &s.DDLCore, &s.DDLCoreSum}} {
		b, err := wecubeDDL.ReadFile("wecube/" + f.name)
		if err != nil {
			return nil, err
		}
		*f.path = filepath.Join(dir, f.name)
		if err := os.WriteFile(*f.path, b, 0o600); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		*f.sum = hex.EncodeToString(sum[:])
	}
	if s.AuthDB, err = StartMariaDBAt(l, s.HostIP); err != nil {
		return nil, err
	}
	if s.CoreDB, err = StartMariaDBAt(l, s.HostIP); err != nil {
		return nil, err
	}
	if err := s.seed(); err != nil {
		return nil, err
	}
	if s.Docker, err = StartDockerd(l); err != nil {
		return nil, err
	}
	if err := s.buildImages(l, version); err != nil {
		return nil, err
	}
	return s, nil
}

// Root opens a database of one of the site's servers as root (unix socket).
func (m *MariaDB) Root(db string) (*sql.DB, error) {
	return sql.Open("mysql", "root@unix("+m.Socket+")/"+db+"?parseTime=true&multiStatements=true")
}

// v3 tables the guide's DDL touches or platform-core v4 reads, as a v3
// WeCube has them (only the columns used).
const wecubeV3Auth = `
CREATE DATABASE auth_server DEFAULT CHARSET utf8;
USE auth_server;
CREATE TABLE auth_sys_role (ID varchar(255) NOT NULL, NAME varchar(255), DISPLAY_NAME varchar(255), IS_ACTIVE bit(1) DEFAULT 1, IS_DELETED bit(1) DEFAULT 0, PRIMARY KEY (ID));
CREATE TABLE auth_sys_user (ID varchar(255) NOT NULL, USERNAME varchar(255), PASSWORD varchar(255), IS_ACTIVE bit(1) DEFAULT 1, IS_BLOCKED bit(1) DEFAULT 0,
  IS_DELETED bit(1) DEFAULT 0, AUTH_SRC varchar(255) DEFAULT 'LOCAL', AUTH_CTX varchar(1024), PRIMARY KEY (ID));
CREATE TABLE auth_sys_user_role (ID varchar(255) NOT NULL, USER_ID varchar(255), USERNAME varchar(255), ROLE_ID varchar(255), ROLE_NAME varchar(255), PRIMARY KEY (ID));
INSERT INTO auth_sys_role (ID, NAME, DISPLAY_NAME) VALUES ('2c9280827019695c017019ac974f001c', 'SUPER_ADMIN', 'SUPER_ADMIN');
`

const wecubeV3Core = `
CREATE DATABASE wecube DEFAULT CHARSET utf8;
USE wecube;
CREATE TABLE system_variables (id varchar(255) NOT NULL, package_name varchar(63), name varchar(255) NOT NULL, value text, default_value text,
  scope varchar(50) NOT NULL, source varchar(500), status varchar(50), PRIMARY KEY (id));
CREATE TABLE plugin_packages (id varchar(255) NOT NULL, name varchar(63) NOT NULL, version varchar(20) NOT NULL, status varchar(20) NOT NULL,
  upload_timestamp timestamp NULL DEFAULT CURRENT_TIMESTAMP, ui_package_included bit(1) DEFAULT 0, edition varchar(20) DEFAULT 'community', PRIMARY KEY (id));
CREATE TABLE plugin_instances (id varchar(255) NOT NULL, host varchar(255), container_name varchar(255), port int(11), container_status varchar(255),
  package_id varchar(255), docker_instance_resource_id varchar(255), instance_name varchar(255), plugin_mysql_instance_resource_id varchar(255),
  s3bucket_resource_id varchar(255), PRIMARY KEY (id));
CREATE TABLE plugin_package_data_model (id varchar(255) NOT NULL, version int(11) NOT NULL DEFAULT 1, package_name varchar(63) NOT NULL,
  is_dynamic bit(1) DEFAULT 0, update_path varchar(256), update_method varchar(10), update_source varchar(32), update_time bigint(20), PRIMARY KEY (id));
CREATE TABLE plugin_package_attributes (id varchar(255) NOT NULL, entity_id varchar(255) NOT NULL, reference_id varchar(255), name varchar(100) NOT NULL,
  description varchar(255), data_type varchar(100) NOT NULL, PRIMARY KEY (id));
INSERT INTO system_variables (id, name, value, default_value, scope, source, status) VALUES
  ('sys_var_gateway_url', 'GATEWAY_URL', '', 'http://10.0.0.1:19110', 'global', 'system', 'active');
`

func (s *WeCubeSite) seed() error {
	hash, err := bcrypt.GenerateFromPassword([]byte(s.AdminPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		m          *MariaDB
		ddl        string
		user, pass string
		extra      []string
	}{
		{s.AuthDB, wecubeV3Auth, s.AuthUser, s.AuthPassword, []string{
			fmt.Sprintf("INSERT INTO auth_server.auth_sys_user (ID, USERNAME, PASSWORD) VALUES ('u-admin', '%s', '%s')", s.AdminUser, hash),
			"INSERT INTO auth_server.auth_sys_user_role (ID, USER_ID, USERNAME, ROLE_ID, ROLE_NAME) VALUES ('ur-1', 'u-admin', 'admin', '2c9280827019695c017019ac974f001c', 'SUPER_ADMIN')",
		}},
		{s.CoreDB, wecubeV3Core, s.CoreUser, s.CorePassword, []string{
			"INSERT INTO wecube.plugin_packages (id, name, version, status, ui_package_included) VALUES " +
				"('wecmdb__v2.1.3', 'wecmdb', 'v2.1.3', 'REGISTERED', 1), ('monitor__v2.0.9', 'monitor', 'v2.0.9', 'REGISTERED', 1), " +
				"('artifacts__v1.4.1', 'artifacts', 'v1.4.1', 'REGISTERED', 1), ('taskman__v1.0.0', 'taskman', 'v1.0.0', 'UNREGISTERED', 1)",
			"INSERT INTO wecube.plugin_instances (id, host, container_name, port, container_status, package_id, instance_name) VALUES " +
				"('wecmdb__10.0.0.5__20000', '10.0.0.5', 'wecmdb', 20000, 'RUNNING', 'wecmdb__v2.1.3', 'wecmdb'), " +
				"('monitor__10.0.0.5__20001', '10.0.0.5', 'monitor', 20001, 'RUNNING', 'monitor__v2.0.9', 'monitor'), " +
				"('artifacts__10.0.0.5__20002', '10.0.0.5', 'artifacts', 20002, 'STOPPED', 'artifacts__v1.4.1', 'artifacts')",
		}},
	} {
		db, err := x.m.Root("")
		if err != nil {
			return err
		}
		stmts := append([]string{x.ddl}, x.extra...)
		stmts = append(stmts, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", x.user, x.pass),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%'", x.user))
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				db.Close()
				return fmt.Errorf("seeding the v3 site: %w\n%s", err, q)
			}
		}
		db.Close()
	}
	return nil
}

// buildImages builds the stand-in statically and imports it four times
// under the guide's names: a rootfs of one binary, /etc/passwd with the
// `app` user the real images run as, /bin/bash (the portal's compose
// command) and the portal's start script.
func (s *WeCubeSite) buildImages(l *Lab, version string) error {
	dir, err := l.TempDir()
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc/nginx", "tmp", "app/platform-auth-server/logs", "app/platform-core/logs", "app/platform-gateway/logs",
		"root/app/ui-resources", "var/log/nginx"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	_ = os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	files := map[string]string{
		"etc/passwd":                         "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000:app:/app:/bin/bash\n",
		"etc/group":                          "root:x:0:\napp:x:1000:\n",
		"etc/nginx/start_platform_portal.sh": "#!/bin/bash\n# lab stand-in: the portal is served by /wecubesim\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o755); err != nil {
			return err
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(root, "wecubesim"), "upgrader/internal/lab/wecubesim")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Dir = moduleDir()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the WeCube stand-in: %v\n%s", err, out)
	}
	if err := os.Symlink("/wecubesim", filepath.Join(root, "bin", "bash")); err != nil {
		return err
	}
	tarPath := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", root, "--numeric-owner", "-cf", tarPath, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	for role, name := range WeCubeImages {
		user := "app"
		if role == "portal" {
			user = "root" // nginx.tpl: user root
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := s.Docker.Command(ctx, "import", "--change", "ENV WECUBESIM_ROLE="+role, "--change", "USER "+user,
			"--change", `CMD ["/wecubesim"]`, tarPath, name+":"+version)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("docker import %s: %v: %s", name, err, out)
		}
	}
	return nil
}

// moduleDir is the repository's root (this file's module), where go build runs.
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Containers lists the engine's containers: name, state and ports, one a line.
func (s *WeCubeSite) Containers() ([]string, error) {
	out, err := s.Docker.Output("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Ports}}")
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// SplitCoreAccount gives the core database's user another password for
// connections from the containers' networks than from HOSTIP, where the
// worker connects: a site whose MySQL account for the platform hosts is
// not the one the upgrade was given. The worker's checks and the DDL pass;
// platform-core cannot log in and restarts in a loop.
func (s *WeCubeSite) SplitCoreAccount(containerPassword string) error {
	db, err := s.CoreDB.Root("")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", s.CoreUser, s.HostIP, s.CorePassword),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s'", s.CoreUser, s.HostIP),
		fmt.Sprintf("ALTER USER '%s'@'%%' IDENTIFIED BY '%s'", s.CoreUser, containerPassword),
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// FixCoreAccount is the DBA's fix: the containers' account takes the
// password the upgrade was given.
func (s *WeCubeSite) FixCoreAccount() error {
	db, err := s.CoreDB.Root("")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf("ALTER USER '%s'@'%%' IDENTIFIED BY '%s'", s.CoreUser, s.CorePassword))
	return err
}

// StartOldContainer runs a container standing for the v3 WeCube beside the
// new one (replace mode stops it at the end).
func (s *WeCubeSite) StartOldContainer(name, version string) error {
	_, err := s.Docker.Output("run", "-d", "--name", name, "--restart", "always", "-e", "GATEWAY_HOST=127.0.0.1", "-e", "GATEWAY_PORT=19110",
		"-e", "PUBLIC_DOMAIN=old", WeCubeImages["portal"]+":"+version)
	return err
}

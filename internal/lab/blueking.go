package lab

import (
	"context"
	_ "embed"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// bkstand is the stand-in for BlueKing's tools on the lab's hosts (see the
// script's header for what it follows and where from).
//
//go:embed blueking/bkstand.sh
var bkstand string

// BlueKingHost is one host of the lab's BlueKing site: an sshd of its own
// whose sessions see their own /data, /usr/lib/systemd/system,
// /usr/local/{bin,sbin}, /opt/py36, /etc/consul-template and /usr/bin/java
// (bind mounts in a mount namespace of that sshd alone).
type BlueKingHost struct {
	Name    string
	LanIP   string   // the IP install.config lists it by
	Modules []string // as install.config lists them (6.2 layout); [control] for the control host
	*SSHD
	// Root is the host's own files: Root/data is its /data.
	Root string
}

// BlueKingSite is a BlueKing 6.1 site on this machine, ready to be upgraded
// by the 6.1 → 6.2 guide: a control host and three module hosts with the
// guide's sample layout, the 6.2 package on the control host, the stand-in
// tools, and the lab's MariaDB as the site's MySQL.
type BlueKingSite struct {
	Dir     string // $BK_LAB_ROOT
	Control *BlueKingHost
	Hosts   []*BlueKingHost // module hosts, bk-1…bk-3
	// PackagePath and PackageMD5 are the 6.2 package on the control host.
	PackagePath, PackageMD5 string
	// MigrateScriptURL serves migrate_subject_system_group.py.
	MigrateScriptURL string
	// MongoAddr is the site's MongoDB (the lab's FerretDB).
	MongoAddr string
}

// blueKingLayout is the guide's sample install.config for 6.2, with every
// monitorv3 project on the first host (pcmd -m monitorv3 stops bk-monitor
// on every monitorv3 host; the guide assumes they all run it).
var blueKingLayout = []struct {
	name, ip string
	mods     []string
	new      []string // modules 6.2 adds here
}{
	{"bk-1", "10.0.0.1", []string{"iam", "ssm", "usermgr", "gse", "license", "redis", "consul", "es7", "monitorv3(influxdb-proxy)", "monitorv3(monitor)", "monitorv3(grafana)", "monitorv3(ingester)", "monitorv3(transfer)", "monitorv3(unify-query)"}, []string{"apigw"}},
	{"bk-2", "10.0.0.2", []string{"nginx", "consul", "mongodb", "rabbitmq", "appo", "influxdb(bkmonitorv3)", "beanstalk", "paas"}, []string{"iam_search_engine"}},
	{"bk-3", "10.0.0.3", []string{"cmdb", "job", "mysql", "zk(config)", "kafka(config)", "appt", "consul", "log(api)", "nodeman(nodeman)", "log(grafana)"}, []string{"auth", "redis_cluster", "etcd"}},
}

// Old (6.1) services running on the module hosts, by host: what the guide
// stops and removes.
var blueKingOldUnits = map[string][]string{
	"bk-1": {"bk-usermgr.service", "bk-gse-config.service", "bk-gse-alarm.service", "bk-gse-api.service", "bk-gse-btsvr.service", "bk-gse-dba.service", "bk-gse-procmgr.service", "bk-monitor.service"},
	"bk-2": {"bk-paas-apigw.service", "bk-paas-console.service", "bk-paas-login.service", "bk-paas-appengine.service", "bk-paas-esb.service", "bk-paas-paas.service", "consul-template.service"},
	"bk-3": {"bk-nodeman.service", "bk-log-api.service"},
}

var blueKingOldVenvs = map[string][]string{
	"bk-1": {"usermgr-api", "bkmonitorv3-monitor"},
	"bk-2": {"open_paas-apigw", "open_paas-appengine", "open_paas-console", "open_paas-esb", "open_paas-login", "open_paas-paas"},
	"bk-3": {"bknodeman-nodeman", "bklog-api"},
}

// BlueKingOptions are what the site is built with.
type BlueKingOptions struct {
	MariaDB *MariaDB
	// YQ is the real yq binary (scripts/build-tools.sh yq): bin/yq of the package.
	YQ string
	// Mongo is the site's MongoDB (FerretDB): the lab puts CMDB's and JOB's
	// collections in it, and the mongodump stand-in writes them.
	Mongo *Mongo
}

// blueKingCollections are the site's MongoDB collections, db/collection.
var blueKingCollections = []string{"cmdb/cc_HostBase", "cmdb/cc_ObjectBase", "joblog/job_log_script"}

// seedBlueKingMongo fills the site's collections and returns what the
// mongodump stand-in writes for each, mongo-bson/<db>/<collection>.bson:
// the collection's documents as the server returns them, raw BSON back to
// back, which is mongodump's .bson format (mongodb/mongo-tools
// mongodump/mongodump.go, dumpValidatedIterToWriter: each cursor
// document's bytes, as they come, into the collection's file).
func seedBlueKingMongo(addr string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().SetHosts([]string{addr}).SetDirect(true))
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	files := map[string]string{}
	for i, dc := range blueKingCollections {
		db, coll, _ := strings.Cut(dc, "/")
		for id := 1; id <= i+1; id++ {
			if _, err := c.Database(db).Collection(coll).InsertOne(ctx, bson.D{{Key: "bk_host_id", Value: id}, {Key: "note", Value: "a (quoted) \"value\""}}); err != nil {
				return nil, fmt.Errorf("seeding %s: %w", dc, err)
			}
		}
		cur, err := c.Database(db).Collection(coll).Find(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("reading %s back: %w", dc, err)
		}
		var b strings.Builder
		for cur.Next(ctx) {
			b.Write(cur.Current)
		}
		if err := cur.Err(); err != nil {
			return nil, fmt.Errorf("reading %s back: %w", dc, err)
		}
		_ = cur.Close(ctx)
		files["mongo-bson/"+dc+".bson"] = b.String()
	}
	return files, nil
}

// StartBlueKing builds the site and starts its hosts' sshd. It needs root
// (mount namespaces) and makes empty mount points /data, /opt/py36 and
// /etc/consul-template on this machine if they are missing.
func StartBlueKing(l *Lab, o BlueKingOptions) (*BlueKingSite, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNeedRoot
	}
	if err := need("unshare", "rsync", "tar", "curl", "mysql", "gzip"); err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	s := &BlueKingSite{Dir: dir}
	files := map[string]string{}
	if o.Mongo != nil {
		bsonFiles, err := seedBlueKingMongo(o.Mongo.Addr)
		if err != nil {
			return nil, err
		}
		s.MongoAddr = o.Mongo.Addr
		maps.Copy(files, bsonFiles)
	}
	maps.Copy(files, map[string]string{
		"bin/bkstand":       bkstand,
		"control":           "bk-ctl\n",
		"mongo-collections": strings.Join(blueKingCollections, "\n") + "\n",
		"site.env":          fmt.Sprintf("LAB_MYSQL_HOST=%s\nLAB_MYSQL_PORT=%s\n", hostOf(o.MariaDB.Addr), portOf(o.MariaDB.Addr)),
	})
	hostsMap := "10.0.0.9 bk-ctl\n"
	for _, h := range blueKingLayout {
		hostsMap += h.ip + " " + h.name + "\n"
	}
	files["hosts.map"] = hostsMap
	if err := writeTree(dir, files, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"count", "fail", "delay"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}

	// The migration script's download (7.6), served here.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ce/3c2955e/migrate_subject_system_group.py" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "#!/usr/bin/python3\n# lab stand-in: migrate_subject_system_group.py (TencentBlueKing/bk-iam build/support-files); /opt/py36/bin/python3 runs it\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	l.Cleanup(func() { _ = srv.Close() })
	s.MigrateScriptURL = "http://" + ln.Addr().String() + "/ce/3c2955e/migrate_subject_system_group.py"

	// CMDB's admin server, for the topology unlock of 7.17.2 (bk-cmdb
	// src/scene_server/admin_server/service/flag.go: POST
	// /migrate/v3/migrate/system/user_config/{key}/{can}, key blueking_modify,
	// can true|false, else 400). The control host's curl reaches it for
	// $BK_CMDB_IP0:9000.
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	csrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/migrate/v3/migrate/system/user_config/"
		key, can, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), "/")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, prefix):
			http.NotFound(w, r)
		case key != "blueking_modify" || (can != "true" && can != "false"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"result":false,"bk_error_code":1199006,"bk_error_msg":"input param invalid","permission":null,"data":null}`)
		default:
			f, _ := os.OpenFile(filepath.Join(dir, "count", "cmdb-blueking-modify-"+can), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if f != nil {
				fmt.Fprintln(f, r.Header.Get("BK_USER"))
				f.Close()
			}
			fmt.Fprint(w, `{"result":true,"bk_error_code":0,"bk_error_msg":"success","permission":null,"data":"modify system user config success"}`)
		}
	})}
	go func() { _ = csrv.Serve(cln) }()
	l.Cleanup(func() { _ = csrv.Close() })
	if err := os.WriteFile(filepath.Join(dir, "cmdb.addr"), []byte(cln.Addr().String()+"\n"), 0o644); err != nil {
		return nil, err
	}

	// The site's databases: IAM's tables the migration reads (subjects,
	// groups, policies) and the version table _update_common_info writes.
	seed := "CREATE DATABASE IF NOT EXISTS bkiam CHARACTER SET utf8mb4; CREATE DATABASE IF NOT EXISTS bksuite_common CHARACTER SET utf8mb4; CREATE DATABASE IF NOT EXISTS open_paas CHARACTER SET utf8mb4;" +
		"CREATE TABLE IF NOT EXISTS bkiam.subject (pk int unsigned PRIMARY KEY, type varchar(32), id varchar(64));" +
		"CREATE TABLE IF NOT EXISTS bkiam.subject_relation (pk int unsigned AUTO_INCREMENT PRIMARY KEY, subject_pk int unsigned, parent_pk int unsigned, policy_expired_at int unsigned);" +
		"CREATE TABLE IF NOT EXISTS bkiam.action (pk int unsigned PRIMARY KEY, system_id varchar(32), id varchar(64));" +
		"CREATE TABLE IF NOT EXISTS bkiam.policy (pk int unsigned AUTO_INCREMENT PRIMARY KEY, subject_pk int unsigned, action_pk int unsigned);" +
		"REPLACE INTO bkiam.subject VALUES (1,'user','admin'),(2,'user','alice'),(3,'group','ops'),(4,'group','dev');" +
		"REPLACE INTO bkiam.subject_relation VALUES (1,1,3,4102444800),(2,2,3,4102444800),(3,2,4,4102444800);" +
		"REPLACE INTO bkiam.action VALUES (1,'bk_cmdb','view_business'),(2,'bk_job','execute_script');" +
		"REPLACE INTO bkiam.policy VALUES (1,3,1),(2,3,2),(3,4,1);" +
		"CREATE TABLE IF NOT EXISTS bksuite_common.production_info (id int PRIMARY KEY, code varchar(32), name varchar(64), version varchar(32));" +
		"REPLACE INTO bksuite_common.production_info VALUES (1,'bksuite','蓝鲸智云','6.1.2');" +
		"CREATE TABLE IF NOT EXISTS open_paas.paas_app (id int PRIMARY KEY, code varchar(32)); REPLACE INTO open_paas.paas_app VALUES (1,'bk_iam');"
	cmd := exec.Command("mysql", "--default-character-set=utf8mb4", "-h", hostOf(o.MariaDB.Addr), "-P", portOf(o.MariaDB.Addr), "-u", "root", "-e", seed)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+o.MariaDB.RootPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("seeding the site's MySQL: %v: %s", err, out)
	}

	// The control host: /data/install (6.1), /data/src (6.1) and the 6.2 package.
	ctl, err := s.newHost(l, "bk-ctl", "10.0.0.9", []string{"control"})
	if err != nil {
		return nil, err
	}
	s.Control = ctl
	var old61, new62 []string
	for _, h := range blueKingLayout {
		old61 = append(old61, h.ip+" "+strings.Join(h.mods, ","))
		new62 = append(new62, h.ip+" "+strings.Join(append(append([]string{}, h.mods...), h.new...), ","))
	}
	secrets := map[string]string{"mysqlRoot": o.MariaDB.RootPassword}
	if err := writeTree(filepath.Join(ctl.Root, "data", "install"), blueKingInstall("6.1", strings.Join(old61, "\n")+"\n", secrets), 0o755); err != nil {
		return nil, err
	}
	if err := writeTree(filepath.Join(ctl.Root, "data", "src"), blueKingSrc("6.1.2", "3.6.4"), 0o644); err != nil {
		return nil, err
	}
	_ = new62
	// The 6.2 package: src/ (the products' packages) and install/ (the new deploy scripts, bin/yq).
	pkg := filepath.Join(dir, "pkg")
	if err := writeTree(filepath.Join(pkg, "install"), blueKingInstall("6.2", "", nil), 0o755); err != nil {
		return nil, err
	}
	if o.YQ != "" {
		if err := copyFile(o.YQ, filepath.Join(pkg, "install", "bin", "yq"), 0o755); err != nil {
			return nil, err
		}
		// The control host runs the guide's yq edit itself (7.10.1).
		if err := copyFile(o.YQ, filepath.Join(ctl.Root, "localbin", "yq"), 0o755); err != nil {
			return nil, err
		}
	}
	jobPkg := filepath.Join(dir, "jobpkg")
	if err := writeTree(jobPkg, map[string]string{
		"job/VERSION": "3.7.5\n",
		"job/support-files/templates/#etc#job#job-common#application.yml": blueKingJobApplication,
	}, 0o644); err != nil {
		return nil, err
	}
	if err := writeTree(filepath.Join(pkg, "src"), map[string]string{"VERSION": "6.2.2\n"}, 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command("tar", "czf", filepath.Join(pkg, "src", "job_ce-3.7.5.tgz"), "-C", jobPkg, "job").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tar: %v: %s", err, out)
	}
	s.PackagePath = "/data/bkce-src-6.2.2.tgz"
	tgz := filepath.Join(ctl.Root, "data", "bkce-src-6.2.2.tgz")
	if out, err := exec.Command("tar", "czf", tgz, "-C", pkg, "src", "install").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tar: %v: %s", err, out)
	}
	sum, err := exec.Command("md5sum", tgz).Output()
	if err != nil {
		return nil, err
	}
	s.PackageMD5 = strings.Fields(string(sum))[0]

	for _, h := range blueKingLayout {
		bh, err := s.newHost(l, h.name, h.ip, append(append([]string{}, h.mods...), h.new...))
		if err != nil {
			return nil, err
		}
		files := map[string]string{"data/bkce/.installed_module": strings.Join(h.mods, "\n") + "\n"}
		for _, u := range blueKingOldUnits[h.name] {
			files["units/"+u] = "[Unit]\nDescription=" + strings.TrimSuffix(u, ".service") + "\n"
			files["state/enabled/"+u] = ""
			files["state/running/"+u] = ""
		}
		for _, v := range blueKingOldVenvs[h.name] {
			files["state/venv/"+v+"/bin/python"] = ""
		}
		if err := writeTree(bh.Root, files, 0o644); err != nil {
			return nil, err
		}
		s.Hosts = append(s.Hosts, bh)
	}
	// Every host has the deploy scripts (bkcli sync common put them there in 6.1).
	for _, h := range s.Hosts {
		if out, err := exec.Command("cp", "-a", filepath.Join(ctl.Root, "data", "install"), filepath.Join(h.Root, "data", "install")).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cp: %v: %s", err, out)
		}
	}
	return s, nil
}

func (s *BlueKingSite) newHost(l *Lab, name, ip string, modules []string) (*BlueKingHost, error) {
	root := filepath.Join(s.Dir, "hosts", name)
	for _, d := range []string{"data", "units", "localbin", "localsbin", "py36/bin", "consul-template/templates", "state"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	stand := filepath.Join(s.Dir, "bin", "bkstand")
	for _, t := range []string{"localsbin/curl", "localsbin/systemctl", "localsbin/rmvirtualenv", "localsbin/docker", "localsbin/mongodump", "py36/bin/python", "py36/bin/python3", "py36/bin/pip3"} {
		if err := os.Symlink(stand, filepath.Join(root, t)); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "java"), []byte("#!/bin/bash\nexec \"$BK_LAB_ROOT/bin/bkstand\" java \"$@\"\n"), 0o755); err != nil {
		return nil, err
	}
	sshd, err := StartSSHDWith(l, SSHDOptions{
		Binds: [][2]string{
			{filepath.Join(root, "data"), "/data"},
			{filepath.Join(root, "units"), "/usr/lib/systemd/system"},
			{filepath.Join(root, "localbin"), "/usr/local/bin"},
			{filepath.Join(root, "localsbin"), "/usr/local/sbin"},
			{filepath.Join(root, "py36"), "/opt/py36"},
			{filepath.Join(root, "consul-template"), "/etc/consul-template"},
			{filepath.Join(root, "java"), "/usr/bin/java"},
		},
		SetEnv: map[string]string{"BK_LAB_ROOT": s.Dir, "BK_LAB_HOST": name, "LAN_IP": ip,
			"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return nil, err
	}
	return &BlueKingHost{Name: name, LanIP: ip, Modules: modules, SSHD: sshd, Root: root}, nil
}

// Count is how many times the stand-ins ran something that must run once
// (upgrade-job, mongodump-start, mongodump-done, upgrader-BEFORE_UPDATE_JOB…).
func (s *BlueKingSite) Count(key string) int {
	b, err := os.ReadFile(filepath.Join(s.Dir, "count", key))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// Fail makes a stand-in fail (check-cmdb, iam-check-db, …) until Fix.
func (s *BlueKingSite) Fail(key string) error {
	return os.WriteFile(filepath.Join(s.Dir, "fail", key), nil, 0o644)
}

// Fix undoes Fail.
func (s *BlueKingSite) Fix(key string) error { return os.Remove(filepath.Join(s.Dir, "fail", key)) }

// Delay makes a stand-in take this long (upgrade-job, mongodump).
func (s *BlueKingSite) Delay(key string, seconds float64) error {
	return os.WriteFile(filepath.Join(s.Dir, "delay", key), []byte(fmt.Sprint(seconds)), 0o644)
}

// File reads a file of a host (path as the host sees it under /data).
func (h *BlueKingHost) File(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(h.Root, path))
	return string(b), err
}

// Running lists the services running on a host.
func (h *BlueKingHost) Running() []string { return names(filepath.Join(h.Root, "state", "running")) }

// Units lists the unit files of a host.
func (h *BlueKingHost) Units() []string { return names(filepath.Join(h.Root, "units")) }

func names(dir string) []string {
	es, _ := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func writeTree(root string, files map[string]string, mode os.FileMode) error {
	for p, c := range files {
		f := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		m := os.FileMode(0o644)
		switch base := filepath.Base(p); {
		case mode == 0o755 && (base == "bkcli" || base == "bk_install" || base == "bkstand" || strings.HasSuffix(base, ".sh")):
			m = 0o755
		}
		if err := os.WriteFile(f, []byte(c), m); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// blueKingJobApplication is the part of JOB's application.yml template the
// guide edits (TencentBlueKing/bk-job support-files/templates/
// #etc#job#job-common#application.yml: job.features.gseV2.enabled).
const blueKingJobApplication = `spring:
  application:
    name: job-common
job:
  features:
    # 如果需要对接GSE1.0，设置job.features.gseV2.enabled=false
    gseV2:
      enabled: true
`

// blueKingInstall is /data/install of a version: the deploy scripts (the
// stand-ins), the env files and helper scripts the guide touches.
func blueKingInstall(version, installConfig string, secrets map[string]string) map[string]string {
	wrap := func(tool string) string {
		return "#!/bin/bash\n# lab stand-in for bk-install's " + tool + "\nSELF_DIR=$(dirname \"$(readlink -f \"$0\")\")\nCTRL_DIR=$SELF_DIR\nsource \"$SELF_DIR/load_env.sh\"\nexec \"$BK_LAB_ROOT/bin/bkstand\" " + tool + " \"$@\"\n"
	}
	jobLine := `    "job": ["job-gateway", "job-assemble"],`
	f := map[string]string{
		"bkcli":      wrap("bkcli"),
		"bk_install": wrap("bk_install"),
		// load_env.sh: the merged env files and the hosts of install.config as
		// BK_<MODULE>_IP arrays (bk-install load_env.sh, bin/02-dynamic/hosts.env).
		"load_env.sh": `# lab stand-in for bk-install's load_env.sh
CTRL_DIR=${CTRL_DIR:-/data/install}; INSTALL_PATH=/data/bkce; BK_PKG_SRC_PATH=/data/src; BK_HOME=$INSTALL_PATH
export CTRL_DIR INSTALL_PATH BK_PKG_SRC_PATH BK_HOME
set -a
for _f in "$CTRL_DIR"/bin/default/*.env "$CTRL_DIR"/bin/01-generate/*.env "$CTRL_DIR"/bin/03-userdef/global.env "$CTRL_DIR"/bin/03-userdef/*.env; do
  [ -f "$_f" ] && source "$_f"
done
set +a
if [ -f "$CTRL_DIR/install.config" ]; then
  while read -r _ip _mods; do
    [ -n "$_ip" ] || continue
    for _m in ${_mods//,/ }; do
      _m=${_m%%(*}; _v=BK_${_m^^}_IP
      eval "$_v+=($_ip)"; eval "export ${_v}0=\${$_v[0]}"
    done
  done < "$CTRL_DIR/install.config"
fi
`,
		"utils.fc": "# lab stand-in for bk-install's utils.fc\nsource \"${CTRL_DIR:-/data/install}/load_env.sh\"\n",
		"tools.sh": `# lab stand-in for bk-install's ce/tools.sh
source "${CTRL_DIR:-/data/install}/load_env.sh"
add_saas_environment () { echo "add saas environment: bk_monitorv3 bk_log_search bk_nodeman"; }
_update_common_info () {
  source "$BK_LAB_ROOT/site.env"
  echo "upgrade version info"
  MYSQL_PWD=$BK_MYSQL_ADMIN_PASSWORD mysql --default-character-set=utf8mb4 -h "$LAB_MYSQL_HOST" -P "$LAB_MYSQL_PORT" -u "$BK_MYSQL_ADMIN_USER" \
    -e "REPLACE INTO bksuite_common.production_info VALUES (1, 'bksuite', '蓝鲸智云', '$(cat "$BK_PKG_SRC_PATH/VERSION")')"
}
`,
		"bin/generate_blueking_generate_envvars.sh": `#!/bin/bash
# lab stand-in: prints only the keys not yet defined (ce/bin/generate_blueking_generate_envvars.sh)
f=$(dirname "$0")/01-generate/$1.env
grep -q '^BK_REDIS_CLUSTER_ADMIN_PASSWORD=' "$f" 2>/dev/null || echo "BK_REDIS_CLUSTER_ADMIN_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
`,
		"bin/release_job_frontend.sh":             "#!/bin/bash\n# lab stand-in\nmkdir -p /data/bkce/job/frontend && echo '<html>job</html>' > /data/bkce/job/frontend/index.html && echo 'release job frontend done'\n",
		"bin/create_blueking_set.py":              "# lab stand-in for ce/bin/create_blueking_set.py\nBLUEKING_MODULES = {\n" + jobLine + "\n}\n",
		"support-files/templates/nginx/paas.conf": "# " + version + " paas.conf\n",
		"bin/default/gse.env":                     "BK_GSE_AGENT_VERSION=v2\n",
		"bin/default/job.env":                     "BK_JOB_RUN_MODE=lite\n",
		"bin/default/bkmonitorv3.env":             "BK_MONITOR_RUN_MODE=lite\n",
		"bin/default/bklog.env":                   "BK_LOG_RUN_MODE=stable\n",
		"VERSION":                                 version + "\n",
	}
	if version == "6.2" {
		return f
	}
	f["install.config"] = installConfig
	f["bin/01-generate/dbadmin.env"] = "BK_MYSQL_ADMIN_USER=root\nBK_MYSQL_ADMIN_PASSWORD=" + secrets["mysqlRoot"] + "\nBK_MONGODB_ADMIN_USER=root\nBK_MONGODB_ADMIN_PASSWORD=lab-mongo-" + secrets["mysqlRoot"][:4] + "\n"
	f["bin/01-generate/paas.env"] = "BK_PAAS_APP_CODE=bk_paas\nBK_PAAS_APP_SECRET=lab-paas-app-secret-7f3a\n"
	f["bin/03-userdef/global.env"] = "BK_DOMAIN=bktencent.com\nBK_JOB_PUBLIC_URL=http://job.bktencent.com:80\nBK_JOB_PUBLIC_ADDR=job.bktencent.com:80\nBK_JOB_API_PUBLIC_URL=\"http://jobapi.bktencent.com:80\"\nBK_JOB_API_PUBLIC_ADDR=\"jobapi.bktencent.com:80\"\n"
	f["bin/03-userdef/gse.env"] = "BK_GSE_ZK_AUTH=zkuser:lab-zk-token\n"
	f["bin/03-userdef/job.env"] = "BK_JOB_LOGSVR_MONGODB_URI=mongodb://joblog:lab-job-mongo@mongodb.service.consul:27017/joblog\nBK_JOB_EXECUTE_RABBITMQ_PASSWORD=lab-job-mq\nBK_JOB_EXECUTE_MYSQL_PASSWORD=lab-job-db\nBK_JOB_EXECUTE_REDIS_PASSWORD=lab-job-redis\n"
	f["bin/03-userdef/cmdb.env"] = "BK_CMDB_ES_STATUS=off\n"
	f["bin/03-userdef/bknodeman.env"] = "BK_NODEMAN_USE_IAM=true"                  // no final newline: the appends must not glue onto it
	f["bin/03-userdef/bkmonitorv3.env"] = "BK_MONITOR_ES7_HOST=es7.service.consul" // no final newline either
	f["bin/03-userdef/bklog.env"] = "BK_BKLOG_ES7_HOST=es7.service.consul\n"
	return f
}

// blueKingSrc is /data/src of a version: VERSION files, cert and backup.
func blueKingSrc(version, job string) map[string]string {
	return map[string]string{
		"VERSION":            version + "\n",
		"job/VERSION":        job + "\n",
		"cert/gse_agent.crt": "lab cert\n",
		"backup/README":      "BlueKing backup folder\n",
		"job/support-files/templates/#etc#job#job-common#application.yml": blueKingJobApplication,
	}
}

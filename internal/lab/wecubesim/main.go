// Command wecubesim is the lab's stand-in for WeCube v4.0.0's four
// containers. The lab builds it statically and imports it into images named
// as the guide's (ccr.ccs.tencentyun.com/webankpartners/platform-core:v4.0.0,
// …); WECUBESIM_ROLE, set in each image, picks which component it plays, and
// it reads that component's environment exactly as the guide's compose files
// set it. It answers on the real paths with the real JSON shapes, read from
// WeBankPartners/wecube-platform at tag v4.0.0 (each handler names its file),
// and fails the ways they fail: a service that cannot reach its database
// logs "Init db connection error" and exits (main.go of platform-core and
// platform-auth-server), which `restart: always` turns into a restart loop;
// business errors are HTTP 200 with status ERROR; a token signed with
// another JWT key is HTTP 401.
//
// What it does not do: orchestration, plugin launch and registration,
// S3, the static-resource SSH copy. The portal is not nginx: it serves a
// page and /ui-resources and passes /auth and /platform to the gateway, as
// build/wecube-portal/nginx.tpl does.
package main

import (
	"crypto/hmac"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	role := os.Getenv("WECUBESIM_ROLE")
	if filepath.Base(os.Args[0]) == "bash" {
		// The portal's compose file: command: /bin/bash -c "/etc/nginx/start_platform_portal.sh"
		if len(os.Args) < 3 || os.Args[1] != "-c" {
			fmt.Fprintln(os.Stderr, "bash: only -c SCRIPT is supported here")
			os.Exit(2)
		}
		script := strings.Trim(os.Args[2], `"' `)
		if _, err := os.Stat(script); err != nil {
			fmt.Fprintf(os.Stderr, "/bin/bash: %s: No such file or directory\n", script)
			os.Exit(127)
		}
	}
	var err error
	switch role {
	case "auth-server":
		err = authServer()
	case "core":
		err = core()
	case "gateway":
		err = gateway()
	case "portal":
		err = portal()
	default:
		err = fmt.Errorf("WECUBESIM_ROLE %q: auth-server, core, gateway or portal", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// logger writes zap-style JSON lines to stdout (docker logs) and to the
// component's log file in the folder the compose file mounts; the
// containers run as the image's app user, so that folder must be writable
// for others (the guide's chmod 777), or the service cannot start.
type logger struct {
	mu   sync.Mutex
	file io.Writer
	lvl  string
}

var log = &logger{lvl: "info"}

func openLog(dir, name, level string) error {
	if level != "" {
		log.lvl = strings.ToLower(level)
	}
	if dir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		line, _ := json.Marshal(map[string]any{"level": "fatal", "ts": now(), "msg": "Init logger fail", "error": err.Error()})
		fmt.Println(string(line))
		return errors.New("cannot write the log folder (is it chmod 777? the container runs as user app)")
	}
	log.file = f
	return nil
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z0700") }

func (l *logger) write(level, msg string, kv ...any) {
	if level == "debug" && l.lvl != "debug" {
		return
	}
	// zap's JSON encoder order: level, ts, msg, then the fields.
	var b strings.Builder
	fmt.Fprintf(&b, `{"level":%q,"ts":%q,"msg":%s`, level, now(), jsonText(msg))
	for i := 0; i+1 < len(kv); i += 2 {
		v, _ := json.Marshal(kv[i+1])
		fmt.Fprintf(&b, `,%s:%s`, jsonText(fmt.Sprint(kv[i])), v)
	}
	b.WriteString("}")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Println(b.String())
	if l.file != nil {
		fmt.Fprintln(l.file, b.String())
	}
}

func jsonText(s string) string { b, _ := json.Marshal(s); return string(b) }

func (l *logger) Info(msg string, kv ...any)  { l.write("info", msg, kv...) }
func (l *logger) Error(msg string, kv ...any) { l.write("error", msg, kv...) }

// need reads the environment variables a component's config template
// takes; a missing one is the real services' "Init config file error".
func need(names ...string) (map[string]string, error) {
	env := map[string]string{}
	var missing []string
	for _, n := range names {
		v, ok := os.LookupEnv(n)
		if !ok {
			missing = append(missing, n)
		}
		env[n] = v
	}
	if len(missing) > 0 {
		fmt.Printf("Init config file error,missing %s \n", strings.Join(missing, ","))
		return nil, fmt.Errorf("environment lacks %s", strings.Join(missing, ", "))
	}
	return env, nil
}

// openDB connects as the component's InitDatabase does; a refused login or
// an unreachable server ends the process (main.go: "Init db connection
// error", then return).
func openDB(host, port, user, pass, name string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", host+":"+port, name
	cfg.Timeout = 5 * time.Second
	cfg.ParseTime = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		log.Error("Init db connection error", "error", err.Error())
		return nil, errors.New("init db connection error")
	}
	log.Info("Success init database connect !!")
	return db, nil
}

func listen(port string, h http.Handler) error {
	log.Info("Server started", "port", port)
	return http.ListenAndServe(":"+port, h)
}

// ---- platform-auth-server (platform-auth-server/main.go, api/routers.go) ----

func authServer() error {
	env, err := need("LOG_LEVEL", "PASSWORD_PRIVATE_KEY_PATH", "MYSQL_SERVER_ADDR", "MYSQL_SERVER_PORT", "MYSQL_USER_NAME",
		"MYSQL_USER_PASSWORD", "MYSQL_SERVER_DATABASE_NAME", "SIGNING_KEY", "USER_ACCESS_TOKEN", "USER_REFRESH_TOKEN", "WECUBE_CORE_ADDRESS")
	if err != nil {
		return err
	}
	if err := openLog("/app/platform-auth-server/logs", "auth-server.log", env["LOG_LEVEL"]); err != nil {
		return err
	}
	key, err := signingKey(env["SIGNING_KEY"])
	if err != nil {
		fmt.Printf("failed to init auth service key")
		return err
	}
	db, err := openDB(env["MYSQL_SERVER_ADDR"], env["MYSQL_SERVER_PORT"], env["MYSQL_USER_NAME"], env["MYSQL_USER_PASSWORD"], env["MYSQL_SERVER_DATABASE_NAME"])
	if err != nil {
		return nil // the real main returns: exit 0, and docker restarts it
	}
	accessMins, _ := strconv.Atoi(env["USER_ACCESS_TOKEN"])
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/v1/health-check", func(w http.ResponseWriter, r *http.Request) { authData(w, nil) })
	// POST /auth/v1/api/login: model.CredentialDto in, []*model.Jwt out
	// (api/api_auth.go Login, service/auth_service.go authenticateUser).
	mux.HandleFunc("POST /auth/v1/api/login", func(w http.ResponseWriter, r *http.Request) {
		var c struct {
			Username   string `json:"username"`
			Password   string `json:"password"`
			ClientType string `json:"clientType"`
			Nonce      string `json:"nonce"`
		}
		if json.NewDecoder(r.Body).Decode(&c) != nil {
			authError(w, 3000, "invalid request")
			return
		}
		if strings.TrimSpace(c.Username) == "" || c.Password == "" {
			authError(w, 3000, "credentials is blank.")
			return
		}
		var hash string
		err := db.QueryRow("SELECT PASSWORD FROM auth_sys_user WHERE USERNAME = ? AND IS_DELETED = 0", c.Username).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) {
			authError(w, 3000, "Bad credential.")
			return
		}
		if err == nil {
			// v4's role entity reads the column the 4.0.0 DDL adds.
			var admin sql.NullString
			err = db.QueryRow("SELECT ADMINISTRATOR FROM auth_sys_role LIMIT 1").Scan(&admin)
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			}
		}
		if err != nil {
			log.Error("Return error", "errorCode", 1, "message", "server handle error", "error", err.Error())
			authError(w, 1, "server handle error ("+err.Error()+")")
			return
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(c.Password)) != nil {
			log.Info("failed to compare hash and password", "username", c.Username)
			authError(w, 3000, "Bad credential:bad password.")
			return
		}
		exp := time.Now().Add(time.Duration(accessMins) * time.Minute).UTC().Unix()
		access := signJWT(key, map[string]any{"sub": c.Username, "iat": time.Now().UTC().Unix(), "exp": exp, "type": "accessToken",
			"clientType": "USER", "roles": []string{"SUPER_ADMIN"}, "authority": "[SUPER_ADMIN]"})
		refresh := signJWT(key, map[string]any{"sub": c.Username, "iat": time.Now().UTC().Unix(), "exp": exp + 600, "type": "refreshToken", "clientType": "USER"})
		w.Header().Set("Authorization", "Bearer "+access)
		w.Header().Set("Authorization-Info", "Bearer "+refresh)
		authData(w, []map[string]string{
			{"expiration": strconv.FormatInt(exp, 10), "token": access, "tokenType": "accessToken"},
			{"expiration": strconv.FormatInt(exp+600, 10), "token": refresh, "tokenType": "refreshToken"},
		})
	})
	return listen("8080", mux)
}

// authData and authError are model.ResponseWrap (model/dto.go) as
// api/support/response.go writes it: HTTP 200 both.
func authData(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "message": "success", "data": data})
}

func authError(w http.ResponseWriter, code int, msg string) {
	_ = code
	writeJSON(w, http.StatusOK, map[string]any{"status": "ERROR", "message": msg, "data": nil})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// signingKey is the key as auth-server's InitKey reads it: base64 without
// padding (service/auth_service.go).
func signingKey(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// signJWT makes an HS512 token (jwt.SigningMethodHS512 in buildAccessToken).
func signJWT(key []byte, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS512", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	msg := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	m := hmac.New(sha512.New, key)
	m.Write([]byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func verifyJWT(key []byte, token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("token contains an invalid number of segments")
	}
	m := hmac.New(sha512.New, key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return errors.New("signature is invalid")
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(b, &claims) != nil || time.Now().Unix() > claims.Exp {
		return errors.New("token is expired")
	}
	return nil
}

// ---- platform-core (platform-core/main.go, api/api.go) ----

func core() error {
	env, err := need("version", "log_level", "password_private_key_path", "https_enable", "http_port", "db_server", "db_port", "db_user",
		"db_pass", "db_database", "auth_server_url", "jwt_signing_key", "s3_address", "s3_access_key", "s3_secret_key",
		"static_resource_server_ips", "static_resource_server_user", "static_resource_server_password", "static_resource_server_port",
		"static_resource_server_path", "plugin_base_mount_path", "plugin_deploy_path", "resource_server_password_seed",
		"gateway_url", "gateway_host_ports", "cron_keep_batch_exec_days", "host_ip")
	if err != nil {
		return err
	}
	if err := openLog("/app/platform-core/logs", "wecube-core.log", env["log_level"]); err != nil {
		return err
	}
	key, err := signingKey(env["jwt_signing_key"])
	if err != nil {
		return err
	}
	db, err := openDB(env["db_server"], env["db_port"], env["db_user"], env["db_pass"], env["db_database"])
	if err != nil {
		return nil
	}
	mux := http.NewServeMux()
	// Without a token (api.go InitHttpServer): the gateway's routes.
	mux.HandleFunc("GET /platform/v1/route-items", func(w http.ResponseWriter, r *http.Request) {
		coreData(w, []map[string]string{{"context": "platform", "httpScheme": "http", "host": env["host_ip"], "port": env["http_port"]}})
	})
	mux.HandleFunc("GET /platform/v1/health-check", func(w http.ResponseWriter, r *http.Request) { coreData(w, nil) })
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			err := errors.New("can not find Request Header Authorization ")
			if tok != "" {
				err = verifyJWT(key, tok)
			}
			if err != nil {
				// middleware.ReturnAuthError: HTTP 401 with the meta only.
				log.Error("tokenValidateError", "errorCode", 1001, "message", "Request token validate error", "error", err.Error())
				writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 1001, "status": "ERROR", "message": "Request token validate error (" + err.Error() + ")"})
				return
			}
			h(w, r)
		}
	}
	// system-variables (api/v1/system/variable.go, services/database/variable.go).
	mux.HandleFunc("POST /platform/v1/system-variables/retrieve", auth(func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			Filters []struct {
				Name     string `json:"name"`
				Operator string `json:"operator"`
				Value    any    `json:"value"`
			} `json:"filters"`
			Paging   bool `json:"paging"`
			Pageable *struct {
				StartIndex int `json:"startIndex"`
				PageSize   int `json:"pageSize"`
			} `json:"pageable"`
		}
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			coreError(w, 1002, "Request param validate error ("+err.Error()+")")
			return
		}
		cols := map[string]string{"id": "id", "packageName": "package_name", "name": "name", "value": "value", "defaultValue": "default_value", "scope": "`scope`", "source": "source", "status": "status"}
		where, args := "", []any{}
		for _, f := range q.Filters {
			col, ok := cols[f.Name]
			if !ok {
				continue
			}
			switch f.Operator {
			case "eq":
				where += " AND " + col + "=?"
				args = append(args, fmt.Sprint(f.Value))
			case "contains":
				where += " AND " + col + " LIKE ?"
				args = append(args, "%"+fmt.Sprint(f.Value)+"%")
			}
		}
		page := map[string]int{"startIndex": 0, "pageSize": 0, "totalRows": 0}
		limit := ""
		if q.Paging && q.Pageable != nil {
			var n int
			_ = db.QueryRow("SELECT COUNT(*) FROM system_variables WHERE 1=1"+where, args...).Scan(&n)
			page = map[string]int{"startIndex": q.Pageable.StartIndex, "pageSize": q.Pageable.PageSize, "totalRows": n}
			limit = fmt.Sprintf(" LIMIT %d,%d", q.Pageable.StartIndex, q.Pageable.PageSize)
		}
		rows, err := db.Query("SELECT id,IFNULL(package_name,''),name,IFNULL(value,''),IFNULL(default_value,''),IFNULL(`scope`,''),IFNULL(source,''),IFNULL(status,'') FROM system_variables WHERE 1=1"+where+limit, args...)
		if err != nil {
			coreError(w, 1003, "Database query error ("+err.Error()+")")
			return
		}
		defer rows.Close()
		out := []map[string]string{}
		for rows.Next() {
			var v [8]string
			if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
				coreError(w, 1003, "Database query error ("+err.Error()+")")
				return
			}
			out = append(out, map[string]string{"id": v[0], "packageName": v[1], "name": v[2], "value": v[3], "defaultValue": v[4], "scope": v[5], "source": v[6], "status": v[7]})
		}
		coreData(w, map[string]any{"pageInfo": page, "contents": out})
	}))
	type sysVar struct {
		ID           string `json:"id"`
		PackageName  string `json:"packageName"`
		Name         string `json:"name"`
		Value        string `json:"value"`
		DefaultValue string `json:"defaultValue"`
		Scope        string `json:"scope"`
		Source       string `json:"source"`
		Status       string `json:"status"`
	}
	// create always inserts (CreateSystemVariables: no duplicate check).
	mux.HandleFunc("POST /platform/v1/system-variables/create", auth(func(w http.ResponseWriter, r *http.Request) {
		var params []*sysVar
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			coreError(w, 1002, "Request param validate error ("+err.Error()+")")
			return
		}
		tx, err := db.Begin()
		if err != nil {
			coreError(w, 1004, "Database execute error ("+err.Error()+")")
			return
		}
		for _, v := range params {
			v.ID = fmt.Sprintf("sys_var_%x", time.Now().UnixNano())
			if _, err := tx.Exec("INSERT INTO system_variables (id,package_name,name,value,default_value,`scope`,source,status) VALUES (?,?,?,?,?,?,?,?)",
				v.ID, v.PackageName, v.Name, v.Value, v.DefaultValue, v.Scope, v.Source, v.Status); err != nil {
				_ = tx.Rollback()
				coreError(w, 1004, "Database execute error ("+err.Error()+")")
				return
			}
		}
		if err := tx.Commit(); err != nil {
			coreError(w, 1004, "Database execute error ("+err.Error()+")")
			return
		}
		coreData(w, params)
	}))
	mux.HandleFunc("POST /platform/v1/system-variables/update", auth(func(w http.ResponseWriter, r *http.Request) {
		var params []*sysVar
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			coreError(w, 1002, "Request param validate error ("+err.Error()+")")
			return
		}
		for _, v := range params {
			if _, err := db.Exec("update system_variables set package_name=?,name=?,value=?,default_value=?,`scope`=?,source=?,status=? where id=?",
				v.PackageName, v.Name, v.Value, v.DefaultValue, v.Scope, v.Source, v.Status, v.ID); err != nil {
				coreError(w, 1004, "Database execute error ("+err.Error()+")")
				return
			}
		}
		coreData(w, params)
	}))
	// packages (api/v1/plugin/package.go GetPackages, services/database/package.go).
	mux.HandleFunc("GET /platform/v1/packages", auth(func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("select id,name,`version`,status,upload_timestamp,IF(ui_package_included,1,0),IFNULL(edition,'') from plugin_packages where status in ('UNREGISTERED','REGISTERED') order by name,`version`")
		if err != nil {
			coreError(w, 1003, "Database query error ("+err.Error()+")")
			return
		}
		defer rows.Close()
		out := []map[string]any{}
		for rows.Next() {
			var id, name, version, status, edition string
			var up time.Time
			var ui int
			if err := rows.Scan(&id, &name, &version, &status, &up, &ui, &edition); err != nil {
				coreError(w, 1003, "Database query error ("+err.Error()+")")
				return
			}
			out = append(out, map[string]any{"id": id, "name": name, "version": version, "status": status, "uploadTimestamp": up, "uiPackageIncluded": ui == 1, "edition": edition})
		}
		coreData(w, out)
	}))
	mux.HandleFunc("GET /platform/v1/packages/{id}/instances", auth(func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("select id,host,container_name,port,container_status,package_id,IFNULL(docker_instance_resource_id,''),IFNULL(instance_name,'') from plugin_instances where package_id=?", r.PathValue("id"))
		if err != nil {
			coreError(w, 1003, "Database query error ("+err.Error()+")")
			return
		}
		defer rows.Close()
		out := []map[string]any{}
		for rows.Next() {
			var id, host, cname, status, pkg, dres, iname string
			var port int
			if err := rows.Scan(&id, &host, &cname, &port, &status, &pkg, &dres, &iname); err != nil {
				coreError(w, 1003, "Database query error ("+err.Error()+")")
				return
			}
			out = append(out, map[string]any{"id": id, "host": host, "containerName": cname, "port": port, "containerStatus": status, "packageId": pkg,
				"dockerInstanceResourceId": dres, "instanceName": iname, "pluginMysqlInstanceResourceId": "", "s3bucketResourceId": ""})
		}
		coreData(w, out)
	}))
	return listen(env["http_port"], mux)
}

// coreData and coreError are models.ResponseJson / HttpResponseMeta as
// api/middleware/response.go writes them: HTTP 200 both.
func coreData(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "status": "OK", "message": "", "data": data})
}

func coreError(w http.ResponseWriter, code int, msg string) {
	log.Error("Handle error", "errorCode", code, "message", msg)
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "status": "ERROR", "message": msg})
}

// ---- platform-gateway (platform-gateway/build/config/default.json) ----

func gateway() error {
	env, err := need("LOG_LEVEL", "GATEWAY_ROUTE_CONFIG_SERVER", "GATEWAY_ROUTE_CONFIG_URI", "WECUBE_CORE_ADDRESS", "AUTH_SERVER_ADDRESS")
	if err != nil {
		return err
	}
	if err := openLog("/app/platform-gateway/logs", "platform-gateway.log", env["LOG_LEVEL"]); err != nil {
		return err
	}
	// The routes come from platform-core at start; without them the
	// gateway cannot serve (route_config_address).
	routes := env["GATEWAY_ROUTE_CONFIG_SERVER"] + env["GATEWAY_ROUTE_CONFIG_URI"]
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(routes)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
	}
	if err != nil {
		log.Error("load route config fail", "route_config_address", routes, "error", err.Error())
		return errors.New("load route config fail")
	}
	log.Info("load route config success", "route_config_address", routes)
	mux := http.NewServeMux()
	mux.Handle("/platform/", proxyTo("http://"+env["WECUBE_CORE_ADDRESS"]))
	mux.Handle("/auth/", proxyTo("http://"+env["AUTH_SERVER_ADDRESS"]))
	return listen("8080", mux)
}

func proxyTo(target string) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, err.Error(), http.StatusBadGateway) })
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		log.Error("proxy error", "target", target, "error", err.Error())
		w.WriteHeader(http.StatusBadGateway)
	}
	return p
}

// ---- wecube-portal (build/wecube-portal/start_platform_portal.sh, nginx.tpl) ----

func portal() error {
	env, err := need("GATEWAY_HOST", "GATEWAY_PORT", "PUBLIC_DOMAIN")
	if err != nil {
		return err
	}
	if err := openLog("/var/log/nginx", "access.log", "info"); err != nil {
		return err
	}
	gw := proxyTo("http://" + env["GATEWAY_HOST"] + ":" + env["GATEWAY_PORT"])
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>WeCube</title></head><body data-domain=%q></body></html>\n", env["PUBLIC_DOMAIN"])
	})
	mux.Handle("/ui-resources/", http.StripPrefix("/ui-resources/", http.FileServer(http.Dir("/root/app/ui-resources"))))
	mux.Handle("/platform/", gw)
	mux.Handle("/auth/", gw)
	return listen("8080", mux)
}

#!/bin/bash
# Lab stand-in for the BlueKing tools the 6.1 → 6.2 guide runs on its hosts:
# bkcli, bk_install, tools.sh's functions, systemctl, virtualenvwrapper's
# rmvirtualenv, docker, the JOB upgrader jar (java), the IAM migration
# script and create_blueking_set.py (python), pip3, mongodump, and the
# deploy scripts' helpers. One file, dispatched by the name it is called as.
#
# State lives in files: each host's units, enabled/running services,
# virtualenvs and containers under $BK_LAB_ROOT/hosts/<host>/state (the
# unit files themselves in the host's own /usr/lib/systemd/system); counts
# of the commands that must run once under $BK_LAB_ROOT/count; a test makes
# a tool fail by creating $BK_LAB_ROOT/fail/<key> and slows one down with
# $BK_LAB_ROOT/delay/<key> (seconds).
#
# What it prints follows the vendors' public sources:
#  - TencentBlueKing/bk-install: bkcli (usage, actions), ce/check.sh and
#    ce/status.sh (pcmd fan-outs per module), pcmd.sh over pssh (lilydjwg/pssh
#    psshlib/task.py: "[N] HH:MM:SS [SUCCESS] host" / "[FAILURE] host Exited
#    with error code N", exit 5 when a remote command failed), functions
#    (emphasize/ok: "[<LAN_IP>]<YYYYmmdd-HHMMSS> ..."), ce/install.sh
#    install_saas ("SaaS application X has been deployed successfully" /
#    "Deploy saas X failed."), ce/bk_install (.bk_install.step journal,
#    "... has been performed without FATAL stat... skip"), ce/tools.sh
#    (_update_common_info: REPLACE INTO bksuite_common.production_info),
#    ce/bin/generate_blueking_generate_envvars.sh (only missing keys),
#    ce/bin/create_blueking_set.py ("job": ["job-gateway", "job-assemble"]).
#  - TencentBlueKing/bk-iam build/support-files/migrate_subject_system_group.py
#    (INFO:root: log lines; check ends "check completed, all data migrate
#    completed" or raises).
#  - TencentBlueKing/bk-job src/backend/upgrader Upgrader.java ("All N
#    upgradeTasks finished successfully").
#  - TencentBlueKing/bk-monitor and bk-log iam_upgrade_action_v2.py
#    ("##### START #####", "Congratulations! IAM upgrade successfully!!!").
#  - systemd: `systemctl status` exits 3 for a unit not running, 4 for no such unit.
set -o pipefail
R=${BK_LAB_ROOT:?not a lab host}
H=${BK_LAB_HOST:?not a lab host}
ST=$R/hosts/$H/state
mkdir -p "$ST"/enabled "$ST"/running "$ST"/venv "$ST"/containers "$R"/count "$R"/fail "$R"/delay
tool=$(basename "$0")
if [ "$tool" = bkstand ]; then tool=$1; shift; fi

count() { echo "$(date +%s.%N) $H $$" >> "$R/count/$1"; }
failing() { [ -e "$R/fail/$1" ]; }
delay() { if [ -f "$R/delay/$1" ]; then sleep "$(cat "$R/delay/$1")"; fi; }
ts() { date +%Y%m%d-%H%M%S; }
say() { echo "[${LAN_IP:-127.0.0.1}]$(ts) $*"; }
# hosts running a module, from the control host's install.config (lab host names).
hosts_of() {
  local m=$1 ip mods
  while read -r ip mods; do
    [ -n "$ip" ] || continue
    case ",$mods," in *",$m,"*|*",$m("*) awk -v ip="$ip" '$1==ip{print $2}' "$R/hosts.map" ;; esac
  done < "$R/hosts/$(cat "$R/control")/data/install/install.config"
}
ip_of() { awk -v h="$1" '$2==h{print $1}' "$R/hosts.map"; }
# pssh's per-host line for a fan-out, as pcmd.sh prints it.
pssh_line() { # n host rc
  if [ "$3" = 0 ]; then echo "[$1] $(date +%H:%M:%S) [SUCCESS] $(ip_of "$2")"
  else echo "[$1] $(date +%H:%M:%S) [FAILURE] $(ip_of "$2") Exited with error code $3"; fi
}

systemctl_() {
  local act=${1:-}; shift || true
  local now=0 rc=0 u f en
  case $act in
    daemon-reload) return 0 ;;
    disable|enable|start|stop|restart|reload|status|is-active) ;;
    *) echo "Unknown command verb $act." >&2; return 1 ;;
  esac
  if [ "${1:-}" = --now ]; then now=1; shift; fi
  for u in "$@"; do
    f=/usr/lib/systemd/system/$u
    case $act in
      disable)
        if [ ! -e "$f" ]; then echo "Failed to disable unit: Unit file $u does not exist." >&2; rc=1; continue; fi
        if [ -e "$ST/enabled/$u" ]; then rm -f "$ST/enabled/$u"; echo "Removed /etc/systemd/system/multi-user.target.wants/$u."; fi
        [ $now = 1 ] && rm -f "$ST/running/$u" ;;
      enable)
        if [ ! -e "$f" ]; then echo "Failed to enable unit: Unit file $u does not exist." >&2; rc=1; continue; fi
        touch "$ST/enabled/$u"; [ $now = 1 ] && touch "$ST/running/$u" ;;
      start|restart)
        if [ ! -e "$f" ]; then echo "Failed to $act $u: Unit $u not found." >&2; rc=5; continue; fi
        touch "$ST/running/$u" ;;
      stop) rm -f "$ST/running/$u" ;;
      reload)
        if [ ! -e "$ST/running/$u" ]; then echo "Job for $u failed: $u is not active, cannot reload." >&2; rc=1; fi ;;
      is-active)
        if [ -e "$ST/running/$u" ]; then echo active; else echo inactive; rc=3; fi ;;
      status)
        if [ ! -e "$f" ]; then echo "Unit $u could not be found."; rc=4; continue; fi
        en=disabled; [ -e "$ST/enabled/$u" ] && en=enabled
        if [ -e "$ST/running/$u" ]; then
          echo "● $u - ${u%.service}"
          echo "   Loaded: loaded ($f; $en; vendor preset: disabled)"
          echo "   Active: active (running) since $(date '+%a %Y-%m-%d %H:%M:%S %Z'); 1 day ago"
        else
          echo "● $u - ${u%.service}"
          echo "   Loaded: loaded ($f; $en; vendor preset: disabled)"
          echo "   Active: inactive (dead)"
          [ $rc -lt 3 ] && rc=3
        fi
        echo ;;
    esac
  done
  return $rc
}

rmvirtualenv_() {
  local e
  for e in "$@"; do
    if [ -d "$ST/venv/$e" ]; then rm -rf "${ST:?}/venv/$e"; echo "Removing $e..."
    else echo "Did not find environment /opt/py36/envs/$e to remove."; fi
  done
}

docker_() {
  local sub=$1; shift
  case $sub in
    cp) [ -e "$ST/containers/${2%%:*}" ] || { echo "Error: No such container:path: ${2%%:*}:${2#*:}" >&2; return 1; }
        echo "Successfully copied to ${2}" ;;
    exec)
      local c=$1; shift
      [ -e "$ST/containers/$c" ] || { echo "Error: No such container: $c" >&2; return 1; }
      local cmd="$*"
      case "$cmd" in
        *init_space_data*)
          echo "[init_space_data] create space type: bkcc, bcs, bkci"
          echo "[init_space_data] create space instances from cmdb business: 2"
          echo "init space data successfully" ;;
        *iam_upgrade_action_v2*)
          count "iam-upgrade-$c"
          echo "[upgrade_iam_action_v2] ##### START #####"
          echo "[upgrade_iam_action_v2] upgrade actions for system ${c#bk-}"
          if [ "$c" = bk-log-api ]; then
            # The stack the guide says to ignore (7.16).
            echo "Traceback (most recent call last):"
            echo "  File \"/cache/.bk/env/lib/python3.6/site-packages/urllib3/connection.py\", line 159, in _new_conn"
            echo "socket.gaierror: [Errno -2] Name or service not known"
            echo "requests.exceptions.ConnectionError: HTTPConnectionPool(host='report.bkmonitorv3.service.consul', port=10205): Max retries exceeded with url: /v2/push/ (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f2c>: Failed to establish a new connection: [Errno -2] Name or service not known'))"
          fi
          echo "[upgrade_iam_action_v2] ##### CHECK RESULT #####"
          if failing "iam-upgrade-$c"; then
            echo "Sorry, maybe something wrong with IAM upgrade. Following actions not OK: view_business"
          else
            echo "Congratulations! IAM upgrade successfully!!!"
          fi ;;
        mkdir*) : ;;
        *) echo "lab docker: $cmd" ;;
      esac ;;
    *) echo "lab docker: $sub $*" ;;
  esac
}

mongodump_() {
  local out="" a
  for a in "$@"; do [ "${prev:-}" = --out ] && out=$a; prev=$a; done
  count mongodump-start
  echo "$(date -u +%Y-%m-%dT%H:%M:%S.000+0000)	writing collections to $out"
  delay mongodump
  local c
  while read -r c; do
    [ -n "$c" ] || continue
    # The collection's documents as the lab's FerretDB held them when the
    # site was seeded (raw BSON back to back: mongodump's .bson format).
    # fail/mongodump-cut: the last document cut short, as a full disk leaves it.
    mkdir -p "$out/$(dirname "$c")" && if [ -f "$R/mongo-bson/$c.bson" ]; then
      if failing mongodump-cut; then head -c -3 "$R/mongo-bson/$c.bson" | gzip; else gzip < "$R/mongo-bson/$c.bson"; fi
    else printf '' | gzip; fi > "$out/$c.bson.gz"
    echo "$(date -u +%Y-%m-%dT%H:%M:%S.000+0000)	done dumping $c"
  done < "$R/mongo-collections"
  count mongodump-done
}

java_() {
  # /usr/bin/java -D… -jar $INSTALL_PATH/job/backend/upgrader-$to.jar from to PHASE
  local jar="" args=() a
  while [ $# -gt 0 ]; do
    case $1 in -jar) jar=$2; shift ;; -D*) ;; *) args+=("$1") ;; esac
    shift
  done
  [ -f "$jar" ] || { echo "Error: Unable to access jarfile $jar"; return 1; }
  if [ ${#args[@]} -lt 3 ]; then echo "Usage: upgrader.jar fromVersion toVersion executeTime"; return 0; fi
  count "upgrader-${args[2]}"
  echo "$(date '+%Y-%m-%d %H:%M:%S') [main] INFO  Upgrader - fromVersion=${args[0]}, toVersion=${args[1]}, executeTime=${args[2]}"
  if failing "upgrader-${args[2]}"; then
    echo "$(date '+%Y-%m-%d %H:%M:%S') [main] ERROR Upgrader - 0 of 1 upgradeTasks finished successfully, others not run yet, please check"
    return 0 # exit 0 on failed tasks, as bk-job did before 421ceff27
  fi
  echo "$(date '+%Y-%m-%d %H:%M:%S') [main] INFO  Upgrader - All 1 upgradeTasks finished successfully"
}

mysql_() { # the lab's MariaDB, as BK_MYSQL_IP:3306 stands for it
  # shellcheck disable=SC1091
  source "$R/site.env"
  MYSQL_PWD=$1 mysql -h "$LAB_MYSQL_HOST" -P "$LAB_MYSQL_PORT" -u "$2" -Nse "$3"
}

python_() {
  local script=${1:-}; shift || true
  case $(basename "$script") in
    migrate_subject_system_group.py)
      local host="" user="" pw="" db=bkiam action=""
      while [ $# -gt 0 ]; do
        case $1 in -H) host=$2; shift ;; -P) shift ;; -u) user=$2; shift ;; -p) pw=$2; shift ;; -D) db=$2; shift ;; *) action=$1 ;; esac
        shift
      done
      grep -q 'migrate_subject_system_group' "$script" || { echo "  File \"$script\", line 1"; echo "SyntaxError: invalid syntax"; return 1; }
      if failing iam-check-db && [ "$action" = check ]; then
        echo "Traceback (most recent call last):"
        echo "  File \"$script\", line 436, in <module>"
        echo "pymysql.err.OperationalError: (2003, \"Can't connect to MySQL server on '$host' ([Errno 111] Connection refused)\")"
        return 1
      fi
      case $action in
        migrate)
          count iam-migrate
          echo "INFO:root:start migrate"
          echo "INFO:root:try to create table: subject_system_group"
          mysql_ "$pw" "$user" "CREATE TABLE IF NOT EXISTS $db.subject_system_group (pk int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, system_id varchar(32) NOT NULL, subject_pk int unsigned NOT NULL, \`groups\` mediumtext NOT NULL, UNIQUE KEY idx_uk_subject_system (subject_pk, system_id)); CREATE TABLE IF NOT EXISTS $db.group_system_auth_type (pk int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, system_id varchar(32) NOT NULL, group_pk int unsigned NOT NULL, auth_type tinyint unsigned NOT NULL, UNIQUE KEY idx_uk_group_system (group_pk, system_id))" || return 1
          echo "INFO:root:try to create table: group_system_auth_type success"
          echo "INFO:root:all group count: $(mysql_ "$pw" "$user" "SELECT COUNT(*) FROM $db.subject WHERE type='group'")"
          mysql_ "$pw" "$user" "INSERT IGNORE INTO $db.group_system_auth_type (system_id, group_pk, auth_type) SELECT DISTINCT a.system_id, p.subject_pk, 1 FROM $db.policy p JOIN $db.action a ON a.pk = p.action_pk JOIN $db.subject s ON s.pk = p.subject_pk AND s.type = 'group'" || return 1
          mysql_ "$pw" "$user" "INSERT INTO $db.subject_system_group (system_id, subject_pk, \`groups\`) SELECT g.system_id, r.subject_pk, CONCAT('{', GROUP_CONCAT(CONCAT('\"', r.parent_pk, '\":', r.policy_expired_at)), '}') FROM $db.subject_relation r JOIN $db.group_system_auth_type g ON g.group_pk = r.parent_pk GROUP BY g.system_id, r.subject_pk ON DUPLICATE KEY UPDATE \`groups\` = VALUES(\`groups\`)" || return 1
          echo "INFO:root:create all subject system group completed"
          echo "INFO:root:create all group system auth type completed" ;;
        check)
          count iam-check
          echo "INFO:root:start check"
          echo "INFO:root:start check table exists"
          local t
          for t in subject_system_group group_system_auth_type; do
            if [ -z "$(mysql_ "$pw" "$user" "SHOW TABLES FROM $db LIKE '$t'")" ]; then
              echo "Traceback (most recent call last):"
              echo "  File \"$script\", line 380, in check"
              echo "Exception: $t table not exists"
              return 1
            fi
          done
          echo "INFO:root:check table exists completed"
          local missing
          missing=$(mysql_ "$pw" "$user" "SELECT CONCAT(p.subject_pk, ' system_id ', a.system_id) FROM $db.policy p JOIN $db.action a ON a.pk = p.action_pk JOIN $db.subject s ON s.pk = p.subject_pk AND s.type = 'group' LEFT JOIN $db.group_system_auth_type g ON g.group_pk = p.subject_pk AND g.system_id = a.system_id WHERE g.pk IS NULL LIMIT 1")
          if [ -n "$missing" ]; then
            echo "Traceback (most recent call last):"
            echo "  File \"$script\", line 330, in check_group_system_auth_type"
            echo "Exception: group $missing auth type not exists"
            return 1
          fi
          echo "INFO:root:check completed, all data migrate completed" ;;
        *) echo "Exception: only support migrate/check action"; return 1 ;;
      esac ;;
    create_blueking_set.py)
      case " $* " in
        *" --delete "*)
          count delete-templates
          echo "delete service template success! Id is -> 11"
          echo "delete set template success! Id is -> 3" ;;
        *) count create-topology; echo "create blueking set success" ;;
      esac ;;
    *) echo "lab python: $script $*" ;;
  esac
}

curl_() { # CMDB's admin server is the lab's (cmdb.addr); everything else is the real curl
  local a args=()
  for a in "$@"; do
    case $a in
      *:9000/migrate/v3/migrate/system/user_config/*) a="http://$(cat "$R/cmdb.addr")/${a#*:9000/}" ;;
    esac
    args+=("$a")
  done
  /usr/bin/curl "${args[@]}"
}

pip_() { echo "Requirement already satisfied: PyMySQL in /opt/py36/lib/python3.6/site-packages (0.9.3)"; }

usage() {
  echo "Usage: bkcli [ -h --help -?  查看帮助 ]"
  echo "            [ sync, install, start, stop, restart, status, initdata, upgrade, render, check, update ] MODULE"
}

# containers/units bkcli installs, by module (bk-install ce/bin/install_*.sh, ce/status.sh).
module_things() {
  case $1 in
    paas) echo "paas container bk-paas-console bk-paas-login bk-paas-esb bk-paas-apigw bk-paas-appengine bk-paas-paas" ;;
    usermgr) echo "usermgr container bk-usermgr-api" ;;
    nodeman) echo "nodeman container bk-nodeman-nodeman" ;;
    bkmonitorv3) echo "monitorv3(monitor) container bk-monitor" ;;
    bklog) echo "log(api) container bk-log-api" ;;
    bkauth) echo "auth unit bk-auth.service" ;;
    redis_cluster) echo "redis_cluster unit redis-cluster@default.service" ;;
    gse) echo "gse unit bk-gse-task.service bk-gse-data.service bk-gse-proc.service bk-gse-file.service bk-gse-cluster.service" ;;
    paas_plugins) echo "paas unit bk-paas-plugins-log-alert.service" ;;
    bkiam) echo "iam unit bk-iam.service" ;;
    cmdb) echo "cmdb unit bk-cmdb-admin.service" ;;
    job) echo "job unit bk-job-gateway.service" ;;
    apigw) echo "apigw unit bk-apigw.service" ;;
    apisix) echo "apigw unit apisix.service" ;;
    etcd) echo "etcd unit etcd.service" ;;
  esac
}

place() { # module: put its containers/units on its hosts, running
  local spec mod kind h n
  spec=$(module_things "$1"); [ -n "$spec" ] || return 0
  read -r mod kind rest <<< "$spec"
  n=0
  for h in $(hosts_of "$mod"); do
    n=$((n+1))
    for x in $rest; do
      if [ "$kind" = container ]; then touch "$R/hosts/$h/state/containers/$x"
      else
        mkdir -p "$R/hosts/$h/state/enabled" "$R/hosts/$h/state/running"
        printf '[Unit]\nDescription=%s\n' "$x" > "$R/hosts/$h/units/$x"
        touch "$R/hosts/$h/state/enabled/$x" "$R/hosts/$h/state/running/$x"
      fi
    done
    pssh_line $n "$h" 0
  done
}

status_of() {
  local spec mod kind h n=0 rc=0 x
  spec=$(module_things "$1"); [ -n "$spec" ] || { echo "当前不支持 '$1' 的状态检测."; return 1; }
  read -r mod kind rest <<< "$spec"
  for h in $(hosts_of "$mod"); do
    n=$((n+1)); local hrc=0
    for x in $rest; do
      if [ "$kind" = container ]; then
        if [ -e "$R/hosts/$h/state/containers/$x" ]; then echo "$x  Up 2 minutes"; else echo "$x  not running"; hrc=1; fi
      else
        if [ -e "$R/hosts/$h/state/running/$x" ]; then echo "$x  active  running"; else echo "$x  inactive  dead"; hrc=3; fi
      fi
    done
    failing "status-$1" && hrc=1
    pssh_line $n "$h" $hrc
    [ $hrc = 0 ] || rc=5
  done
  return $rc
}

bkcli_() {
  local action=${1:-} module=${2:-}
  case $action in
    sync|install|start|stop|restart|status|initdata|upgrade|render|check|update) ;;
    *) usage; return 0 ;; # bkcli prints usage and exits 0 on a wrong action
  esac
  [ -n "$module" ] || { usage; return 0; }
  case $action in
    sync)
      say "sync $module to its hosts"
      if [ "$module" = common ]; then
        local h
        for h in $(awk '{print $2}' "$R/hosts.map"); do
          [ "$h" = "$H" ] && continue
          mkdir -p "$R/hosts/$h/data/install"
          rsync -a --delete --exclude=install.config "$CTRL_DIR/" "$R/hosts/$h/data/install/"
          cp -a "$CTRL_DIR/install.config" "$R/hosts/$h/data/install/install.config"
        done
      fi
      say "sync $module done" ;;
    install)
      case $module in
        bkenv)
          mkdir -p "$CTRL_DIR/bin/04-final"
          local f m
          for f in "$CTRL_DIR"/bin/default/*.env; do
            m=$(basename "$f")
            cat "$f" "$CTRL_DIR"/bin/01-generate/*.env "$CTRL_DIR/bin/03-userdef/global.env" "$CTRL_DIR/bin/03-userdef/$m" 2>/dev/null > "$CTRL_DIR/bin/04-final/$m"
          done
          say "merge env files into bin/04-final done" ;;
        saas-o)
          local app=${3:?}
          count "saas-$app"
          if failing "saas-$app-once" && [ "$(wc -l < "$R/count/saas-$app")" -le 1 ]; then
            say "deploy saas $app: timed out waiting for the deploy task"
            echo "Deploy saas $app failed."; return 1
          fi
          say "SaaS application $app has been deployed successfully" ;;
        gse)
          count install-gse
          say "install gse V2 (gse_ce-2.1.2)"
          place gse
          # The output the guide names as expected (7.8.2).
          echo "API gateway released 2.1.2-beta20+20230913021624, title bk-gse-v2, stages ['prod']"
          echo "warning!! generate sdks failed: status_code: 400, code: 50100, 网关 SDK 发布失败，请联系管理员。"
          echo "Stderr: request bkapi failed. status_code: <Response [400]>,"
          echo "bkapi_client_core.exceptions.HTTPResponseError: 400 Client Error: Bad Request for url: http://apigw-apigateway.service.consul:6006/api/bk-apigateway/prod/api/v1/apis/bk-gse/sdk/, status_code: 400, request_id: 6e1b7c2a-3f1d-4c55-9a62-0d7f3c2b9e41"
          if failing install-gse; then echo "ERROR: render gse config failed: BK_GSE_ZK_TOKEN is empty"; return 1; fi
          say "install gse done" ;;
        *)
          count "install-$module"
          place "$module"
          say "install $module done" ;;
      esac ;;
    start|restart)
      place "$module" >/dev/null; say "$action $module done" ;;
    stop)
      say "stop $module done" ;;
    status)
      status_of "$module" ;;
    check)
      say "check $module health"
      if failing "check-$module"; then pssh_line 1 "$(hosts_of "${module#bk}" | head -1)" 1; return 5; fi
      if [ "$module" = gse ]; then
        local h u bad=0 n=0
        for h in $(hosts_of gse); do
          n=$((n+1))
          # check_gse.sh checks every enabled bk-gse-*.service
          for u in "$R/hosts/$h/state/enabled"/bk-gse-*.service; do
            [ -e "$u" ] || continue
            [ -e "$R/hosts/$h/state/running/$(basename "$u")" ] || { echo "$(basename "$u") is enabled but not running"; bad=1; }
          done
          pssh_line $n "$h" $bad
        done
        [ $bad = 0 ] || return 5
      else
        pssh_line 1 "$(hosts_of "${module#bk}" | head -1)" 0
      fi ;;
    initdata)
      count "initdata-$module"
      if [ "$module" = topo ]; then
        grep -q '"job": \["job-config", "job-crontab", "job-execute", "job-gateway", "job-logsvr", "job-manage", "job-backup", "job-analysis"\]' "$CTRL_DIR/bin/create_blueking_set.py" ||
          { say "create_blueking_set.py still lists the lite JOB modules"; }
      fi
      say "initdata $module done" ;;
    upgrade)
      count "upgrade-$module"
      say "upgrade $module: start"
      delay "upgrade-$module"
      if failing "upgrade-$module"; then say "upgrade $module failed"; return 1; fi
      if [ "$module" = job ]; then
        local v h
        v=$(cat "$BK_PKG_SRC_PATH/job/VERSION")
        for h in $(hosts_of job); do
          mkdir -p "$R/hosts/$h/data/bkce/job/backend" && touch "$R/hosts/$h/data/bkce/job/backend/upgrader-$v.jar"
        done
      fi
      place "$module" >/dev/null
      say "upgrade $module done" ;;
    *) say "$action $module done" ;;
  esac
}

bk_install_() {
  local target=${1:-}
  case $target in
    saas-o)
      local app=${2:?}; count "saas-$app"
      say "SaaS application $app has been deployed successfully" ;;
    apigw)
      local s journal=$CTRL_DIR/.bk_install.step
      touch "$journal"
      for s in "sync etcd" "install etcd" "sync apigw" "install apigw" "start apigw" "install apisix" "start apisix" "restart apigw"; do
        if grep -qx "apigw $s" "$journal"; then echo "apigw $s has been performed without FATAL stat... skip"; continue; fi
        bkcli_ ${s% *} "${s#* }" || return 1
        echo "apigw $s" >> "$journal"
      done ;;
    *) usage; return 0 ;;
  esac
}

case $tool in
  systemctl) systemctl_ "$@" ;;
  rmvirtualenv) rmvirtualenv_ "$@" ;;
  docker) docker_ "$@" ;;
  mongodump) mongodump_ "$@" ;;
  java) java_ "$@" ;;
  python|python3) python_ "$@" ;;
  pip3|pip) pip_ "$@" ;;
  curl) curl_ "$@" ;;
  bkcli) bkcli_ "$@" ;;
  bk_install) bk_install_ "$@" ;;
  *) echo "bkstand: unknown tool $tool" >&2; exit 2 ;;
esac

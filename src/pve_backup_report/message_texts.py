"""The English and French wording of every coded message (``messages.Msg``).

Kept apart from the report's own texts (``output/report_i18n.py``) because a message is
rendered in English where it is made, at the bottom of the layers: analysis and
collection say what happened with a code, this table says it in words.
"""

from __future__ import annotations

# The wording of every ``messages.Msg`` code (coverage reasons, anomalies, results we
# build). Arguments are formatted by ``messages.render`` (lists, durations, times,
# decimals); the English texts are also what the check and the JSON show.
LIST_TOTAL: dict[str, str] = {"en": "({n} in total)", "fr": "({n} au total)"}
UNKNOWN_TIME: dict[str, str] = {"en": "?", "fr": "?"}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # jobs PVE refuses to run, and storages that do not exist (findings X1, X2)
        "refused_pool_missing": "pool '{pool}' does not exist",
        "refused_strange_vmid": "strange VM ID '{item}' in '{option}'",
        "refused_no_value": "'{selection}' without a value: vmid property is missing",
        "refused_nothing": "none of pool, vmid, all or exclude is set: vmid property is missing",
        "refused_conflict": "option '{option}' conflicts with option 'vmid'",
        "job_refused_by_pve": (
            "job {job}: PVE refuses to run it ({reason}): every run fails before backing up "
            "any guest, and no task is logged"
        ),
        "job_names_it_refused": "job {job} names it, but PVE refuses to run that job: {why}",
        "storage_missing": (
            "storage '{storage}' does not exist (the token would see it): every run fails "
            "before backing up any guest"
        ),
        "storage_hidden_no_audit": (
            "storage '{storage}' is not visible to this token (Datastore.Audit missing on "
            "it): it may be PBS"
        ),
        "storage_hidden_maybe": (
            "storage '{storage}' is not visible to this token (not configured, or hidden): "
            "it may be PBS"
        ),
        "job_storage_missing": (
            "job {job} writes to storage '{storage}', which does not exist (this API token "
            "would see it): every run fails before backing up any guest (could not get "
            "storage information for '{storage}')"
        ),
        "job_storage_hidden_no_audit": (
            "job {job} references unknown storage '{storage}' (Datastore.Audit is missing on "
            "/storage/{storage}): it may be PBS"
        ),
        "job_default_storage_missing": (
            "job {job} uses default storage '{storage}' on node {nodes}, which does not "
            "exist: every run there fails before backing up any guest (could not get "
            "storage information for '{storage}')"
        ),
        # joining pieces
        "empty": "",
        "suffix_node_default": ", the default of node {node}",
        "suffix_fallback": ", the fallback on node {node} (no vzdump default known)",
        # a job's selection (analysis/coverage.py)
        "pool_missing": "pool '{pool}' does not exist (or is not visible to this API token)",
        "pool_unreadable": "members of pool '{pool}' could not be read",
        "strange_vmid": "PVE rejects the job: strange VM ID '{item}' in '{option}'",
        "selection_no_value": "unsupported selection: '{selection}' without a value",
        "selection_nothing": (
            "unsupported selection: none of pool, vmid, all or exclude is set "
            "(PVE rejects the job: vmid property is missing)"
        ),
        "selection_conflict": (
            "unsupported selection: 'vmid' together with {options} (PVE rejects the job)"
        ),
        # a job's storage on a node (analysis/coverage.py)
        "storage_unknown": (
            "storage '{storage}' is unknown (not configured, or not visible to this token)"
        ),
        "storage_non_pbs": "writes to non-PBS storage '{storage}' ({type})",
        "storage_disabled": "PBS storage '{storage}' is disabled",
        "storage_unavailable": "PBS storage '{storage}' is not available on node {node}",
        "storage_no_backup": "PBS storage '{storage}' does not allow backup content",
        "job_storage": "job {job} {problem}{suffix}",
        "job_storage_colon": "job {job}: {problem}{suffix}",
        "job_refused": (
            "job {job} sets both 'storage' and 'dumpdir': PVE refuses to run it "
            "(cannot use options 'storage' and 'dumpdir' at the same time)"
        ),
        "job_dumpdir": "job {job} writes plain files to directory '{path}' (dumpdir), not to PBS",
        "job_dumpdir_any": "job {job} writes plain files to a directory (dumpdir), not to PBS",
        "node_dumpdir": (
            "job {job} writes plain files to directory '{path}' (dumpdir, the vzdump default "
            "of node {node}), not to PBS"
        ),
        "node_dumpdir_hidden": (
            "job {job} writes plain files to a directory (dumpdir, the vzdump default of "
            "node {node}; PVE shows the path only with Sys.Audit on the node), not to PBS"
        ),
        # why a guest has its coverage (analysis/coverage.py)
        "job_disabled": "job {job} is disabled",
        "job_default_unknown": (
            "job {job} has no storage and the vzdump default of node {node} is unknown"
        ),
        "job_might_include": "job {job} might include it: {why}",
        "job_node_restricted": "job {job} is restricted to node {job_node} (guest is on {node})",
        "jobs_unreadable": "the backup jobs could not be read",
        "storages_unreadable": "the storages could not be read",
        "no_job": "no backup job includes it",
        # anomalies of the coverage analysis (analysis/coverage.py)
        "exclude_without_all": (
            "job {job} has 'exclude' but not 'all': PVE runs it as all guests minus the "
            "excluded ones (its not-backed-up report treats it as selecting nothing)"
        ),
        "exclude_with_pool": (
            "job {job}: 'exclude' is ignored because the job selects pool '{pool}'"
        ),
        "job_unresolved": "job {job}: cannot resolve its guests: {reason}",
        "job_missing_vmids": (
            "job {job} lists VMIDs that do not exist: {vmids}; it will fail on every node "
            "it runs on"
        ),
        "job_node_skips": (
            "job {job} only runs on node {node}, so it skips the guests it names that live "
            "on other nodes: {vmids}"
        ),
        "job_unknown_storage": (
            "job {job} references unknown storage '{storage}' (not configured, or not "
            "visible to this API token): it may be PBS"
        ),
        "job_disabled_storage": "enabled job {job} writes to disabled storage '{storage}'",
        "job_storage_unavailable": (
            "job {job} writes to PBS storage '{storage}', which is not available on node "
            "{nodes} where it includes guests {vmids}"
        ),
        "job_default_storage_unknown": (
            "job {job} uses default storage '{storage}' on node {nodes}, which is not "
            "visible to this API token (it may be PBS)"
        ),
        "job_default_storage_disabled": (
            "enabled job {job} writes to disabled storage '{storage}' (default of node {nodes})"
        ),
        "job_storage_no_backup": (
            "job {job} writes to PBS storage '{storage}', which does not allow backup "
            "content (node {nodes})"
        ),
        "job_node_missing": (
            "job {job} is restricted to node '{node}', which is not a cluster node: it never runs"
        ),
        "nothing_visible": (
            "no guest and no backup job visible: an empty cluster, or VM.Audit is missing "
            "for this API token"
        ),
        "vm_audit_missing": "{parts}: VM.Audit is probably missing for this API token",
        "jobs_but_no_guest": "there are backup jobs but no guest is visible in /cluster/resources",
        "pool_members_hidden": (
            "pools list members that /cluster/resources does not show: {vmids}"
        ),
        "job_vmids_hidden": (
            "jobs list VMIDs that /cluster/resources does not show (deleted guests, or "
            "hidden): {vmids}"
        ),
        "pve_lists_covered": (
            "PVE's not-backed-up list names guests we consider covered: {vmids}; the "
            "coverage analysis may be wrong"
        ),
        "pve_counts_included": (
            "PVE counts guests as included in a backup job although we found none: {vmids}"
        ),
        # condensed anomalies (analysis/anomalies.py)
        "tasks_like_this": "{pattern} ({count} tasks like this)",
        # collection (collect/inventory.py, collect/tasks.py, collect/creation.py)
        "what_resources": "guests",
        "what_jobs": "backup jobs",
        "what_storage": "storages",
        "what_nodes": "nodes",
        "what_pools": "pools",
        "what_version": "version",
        "what_not_backed_up": "PVE's not-backed-up list (cross-check skipped)",
        "what_status": "the cluster name",
        "what_permissions": "the token's permissions (privilege checks skipped)",
        "answer_not_list": "{what}: unexpected answer (not a list)",
        "items_skipped": (
            "{what}: {count} item(s) without the fields the analysis needs were skipped"
        ),
        "cannot_read": "cannot read {what}: {error} ({endpoint})",
        "no_nodes": (
            "PVE lists no nodes: task history, node time zones and PBS content cannot be read"
        ),
        "no_storage_visible": (
            "no storage is visible although backup jobs write to storages: "
            "Datastore.Audit is probably missing for this API token"
        ),
        "pool_needs_audit": (
            "pool '{pool}' used by a backup job is not readable: Pool.Audit is probably missing"
        ),
        "pool_read_error": "cannot read pool '{pool}': {error}",
        "paren_error": " ({error})",
        "tz_not_installed": " (unknown time zone '{zone}' on this host (install tzdata))",
        "tz_fallback": (
            "time zone of node(s) {nodes} not readable{why}; schedules evaluated in {zone}"
        ),
        "tz_fallback_guess": (
            "time zone of node(s) {nodes} not readable{why}; schedules evaluated in {zone} "
            "(set timezone: in the config)"
        ),
        "vzdump_defaults_unreadable": (
            "vzdump defaults of node {node} not readable ({error}); the guests of jobs "
            "without a storage are indeterminate there"
        ),
        "notes_unreadable": "notes of {count} guest(s) not readable",
        "creation_tasks_unreadable": (
            "task list of node {node} not readable ({error}): a guest created there since "
            "the last run is reported as never backed up"
        ),
        "node_not_online": "node {node} is {status}: its task history is not readable",
        "task_history_unreadable": "task history of node {node} not readable: {error}",
        "malformed_tasks": "{count} malformed task item(s) on node {node} ignored",
        "task_not_usable": "task {upid} not usable: {error}",
        "no_error_text": "no error text",
        "dead_run_job": (
            "task {upid} on node {node} died before backing up any guest ({error}); the "
            "guests of its job {job} are not known"
        ),
        "dead_run_due": (
            "task {upid} on node {node} died before backing up any guest ({error}); jobs "
            "{jobs} were due at its start and which one it ran is not known: their guests' "
            "latest results may be older"
        ),
        "dead_run_unmatched": (
            "task {upid} on node {node} died before backing up any guest ({error}) and "
            "matches no scheduled job: the guests it was to back up are not known"
        ),
        # task logs (analysis/history.py)
        "log_incomplete": (
            "task log of {upid} is incomplete (no TASK line, task status '{error}'); guests "
            "missing from the log are not reported"
        ),
        "job_errors_no_guest": ("task {upid} reports job errors but its log names no failed guest"),
        "tz_node_unknown": "node time zone unknown",
        "tz_unknown": "unknown time zone '{zone}'",
        "log_times_utc": "{problem}: local times in the log of {upid} were read as UTC",
        "log_unavailable": "task log of {upid} unavailable ({error}); {outcome}",
        "no_log": "no log",
        "empty_log": "empty log",
        "no_content": "no content",
        "outcome_status": "result taken from the task status",
        "outcome_expected": "results of the expected guests taken from the task status",
        "outcome_unknown": "per-guest results unknown (task status '{error}')",
        "outcome_none": "no guest results (multi-guest task, guests not known)",
        "backup_failed": "backup failed",
        "more_issues": "{first} (+{count} more)",
        "log_cut": "log incomplete; result taken from the task status",
        "did_not_finish": "backup did not finish (task ended: {error})",
        "not_backed_up_ended": "not backed up (task ended: {error})",
        "ended_with": "task ended with {error}",
        "ended": "task ended: {error}",
        "ended_with_unknown_guest": "task ended with {error} (guest unknown)",
        "from_pbs_storage": "from PBS storage {storage} (no task in the history window)",
        # assessment (analysis/assess.py, analysis/anomalies.py)
        "pbs_lists_nothing": (
            "PBS storage(s) {storages} list no backups although tasks show successful ones: "
            "the token probably lacks Datastore.Allocate on the storage (or "
            "Datastore.AllocateSpace plus VM.Backup); read-only roles such as PVEAuditor "
            "see an empty list"
        ),
        "ok_without_snapshot": (
            "{count} guest(s) whose latest task says OK have no such snapshot on the PBS "
            "storage (pruned, deleted, or another namespace?)"
        ),
        "no_schedule": "job {job} has no schedule: it only runs when started by hand",
        "schedule_not_understood": "job {job}: schedule '{schedule}' not understood ({error})",
        "next_run_mismatch": (
            "job {job}: PVE's next-run does not match schedule '{schedule}' in time zone "
            "{zones} (time zone problem or parser gap)"
        ),
        "history_hidden": (
            "node(s) {nodes} list no vzdump task although PBS holds backups made since: the "
            "token probably lacks Sys.Audit on /nodes/<node> (task lists are filtered, not "
            "refused), so failures cannot be seen"
        ),
        # configuration (analysis/ignore.py), cache (collect/task_cache.py)
        "rule_expired": "ignore rule {rule} expired on {until} and no longer applies",
        "secret_file_open": (
            "token secret file {path} is accessible to every local user (mode {mode}): "
            "chmod o-rwx it (0600, or 0640 with the monitoring user's group)"
        ),
        "cache_unreadable": "task cache {path} unreadable ({error}); rebuilt from the API",
        "cache_unwritable": (
            "task cache {path} not writable ({error}); every run reads the logs again"
        ),
        # PBS (collect/pbs.py, collect/storage_space.py, analysis/pbs_content.py,
        # analysis/pbs_health.py)
        "pbs_api_unusable": "PBS API of {server} not usable ({error})",
        "pbs_no_datastore": (
            "no configured PBS server has datastore {datastore} of storage {storage}"
        ),
        "pbs_read_from_pve": "{text}: snapshots of {storage} read from PVE instead",
        "pbs_no_audit": (
            "PBS token {token} lacks the DatastoreAudit role on {path} ({server}): PBS lists "
            "only the backup groups it owns, so storage {storage} may look emptier than it is"
        ),
        "pbs_what_snapshots": "snapshots not readable",
        "pbs_what_verify_jobs": "verify jobs",
        "pbs_what_gc": "garbage collection status of {store}",
        "pbs_needs_role": " (the token needs DatastoreAudit on {path})",
        "pbs_denied": (
            "PBS {server}: {what} for storage {storage}: {error}{hint}; read from PVE instead"
        ),
        "pbs_info_unreadable": "PBS {server}: {what} not readable: {error}{hint}",
        "pbs_needs_audit": " (needs DatastoreAudit)",
        "pbs_verify_job": "PBS verify job {job} of datastore {datastore} ({server})",
        "pbs_gc": "PBS garbage collection of datastore {datastore} ({server})",
        "pbs_job_failed": "{what} failed at {end_at}: {error}",
        "pbs_job_late": (
            "{what} has not run within its schedule '{schedule}': due since {due_at}, latest "
            "run {last_at}"
        ),
        "pbs_job_late_never": (
            "{what} has not run within its schedule '{schedule}': due since {due_at}, latest "
            "run never"
        ),
        "pbs_not_verified": (
            "{count} snapshot(s) on PBS storage {storage} not verified for more than {max_s} "
            "({never} never verified; oldest {oldest})"
        ),
        "pbs_inactive": (
            "PBS storage {storage} is not active on PVE (PVE cannot reach its server or "
            "datastore: backups to it fail)"
        ),
        "pbs_content_no_node": (
            "no online node can read PBS storage {storage}; content cross-check skipped"
        ),
        "pbs_content_unreadable": "content of PBS storage {storage} not readable: {error}",
        "space_unreadable": "space of PBS storage {storage} not readable: {error}",
        "space_no_fields": "answer without total/used/avail",
        # privileges (analysis/privileges.py)
        "perm_lacks": "the API token lacks {label} (/access/permissions): {without}",
        "perm_partly": (
            "the API token has {names} only on some paths below {path} (a pool ACL?), not on "
            "{path} with propagate (/access/permissions): {without}"
        ),
        "perm_label": "{names} on {path}",
        "perm_label_propagated": "{names} on {path} (propagated)",
        "perm_or": "{first} or {second}",
        "without_sys_audit_root": (
            "403 on the backup jobs (pve-manager PVE/API2/Backup.pm index), so coverage "
            "cannot be known"
        ),
        "without_sys_audit_nodes": (
            "task lists come back EMPTY (scheduled backups run as root@pam and are filtered "
            "out, pve-manager PVE/API2/Tasks.pm), so history looks like 'never backed up' "
            "and failures cannot be seen"
        ),
        "without_vm_audit": (
            "guests silently disappear from /cluster/resources (pve-manager "
            "PVE/API2/Cluster.pm resources), so they are neither checked nor reported as "
            "not covered"
        ),
        "without_datastore_audit": (
            "storages silently disappear from /storage, so jobs look like they write to an "
            "unknown storage"
        ),
        "without_pool_audit": (
            "pools silently disappear from /pools and the pool field from guests, so pool "
            "jobs cannot be resolved"
        ),
    },
    "fr": {
        # tâches que PVE refuse d'exécuter, stockages inexistants (constats X1, X2)
        "refused_pool_missing": "le pool '{pool}' n'existe pas",
        "refused_strange_vmid": "VMID invalide '{item}' dans '{option}'",
        "refused_no_value": "'{selection}' sans valeur : la propriété vmid manque",
        "refused_nothing": "ni pool, ni vmid, ni all, ni exclude : la propriété vmid manque",
        "refused_conflict": "l'option '{option}' est incompatible avec l'option 'vmid'",
        "job_refused_by_pve": (
            "tâche {job} : PVE refuse de l'exécuter ({reason}) : chaque exécution échoue "
            "avant de sauvegarder le moindre invité, et aucune tâche n'est journalisée"
        ),
        "job_names_it_refused": (
            "la tâche {job} le nomme, mais PVE refuse d'exécuter cette tâche : {why}"
        ),
        "storage_missing": (
            "le stockage '{storage}' n'existe pas (le jeton le verrait) : chaque exécution "
            "échoue avant de sauvegarder le moindre invité"
        ),
        "storage_hidden_no_audit": (
            "le stockage '{storage}' est invisible pour ce jeton (Datastore.Audit y manque) : "
            "il est peut-être PBS"
        ),
        "storage_hidden_maybe": (
            "le stockage '{storage}' est invisible pour ce jeton (non configuré, ou caché) : "
            "il est peut-être PBS"
        ),
        "job_storage_missing": (
            "la tâche {job} écrit vers le stockage '{storage}', qui n'existe pas (ce jeton "
            "d'API le verrait) : chaque exécution échoue avant de sauvegarder le moindre "
            "invité (informations du stockage '{storage}' introuvables)"
        ),
        "job_storage_hidden_no_audit": (
            "la tâche {job} désigne un stockage inconnu '{storage}' (Datastore.Audit manque "
            "sur /storage/{storage}) : il est peut-être PBS"
        ),
        "job_default_storage_missing": (
            "la tâche {job} utilise le stockage par défaut '{storage}' sur le nœud {nodes}, "
            "qui n'existe pas : chaque exécution y échoue avant de sauvegarder le moindre "
            "invité (informations du stockage '{storage}' introuvables)"
        ),
        "empty": "",
        "suffix_node_default": ", le défaut du nœud {node}",
        "suffix_fallback": ", le repli sur le nœud {node} (défaut vzdump inconnu)",
        "pool_missing": "le pool '{pool}' n'existe pas (ou ce jeton d'API ne le voit pas)",
        "pool_unreadable": "les membres du pool '{pool}' sont illisibles",
        "strange_vmid": "PVE refuse la tâche : VMID invalide '{item}' dans '{option}'",
        "selection_no_value": "sélection non prise en charge : '{selection}' sans valeur",
        "selection_nothing": (
            "sélection non prise en charge : ni pool, ni vmid, ni all, ni exclude "
            "(PVE refuse la tâche : la propriété vmid manque)"
        ),
        "selection_conflict": (
            "sélection non prise en charge : 'vmid' avec {options} (PVE refuse la tâche)"
        ),
        "storage_unknown": (
            "le stockage '{storage}' est inconnu (non configuré, ou invisible pour ce jeton)"
        ),
        "storage_non_pbs": "écrit vers le stockage non-PBS '{storage}' ({type})",
        "storage_disabled": "le stockage PBS '{storage}' est désactivé",
        "storage_unavailable": (
            "le stockage PBS '{storage}' n'est pas disponible sur le nœud {node}"
        ),
        "storage_no_backup": "le stockage PBS '{storage}' n'accepte pas le contenu de sauvegarde",
        "job_storage": "la tâche {job} {problem}{suffix}",
        "job_storage_colon": "tâche {job} : {problem}{suffix}",
        "job_refused": (
            "la tâche {job} définit à la fois 'storage' et 'dumpdir' : PVE refuse de la "
            "lancer (options 'storage' et 'dumpdir' incompatibles)"
        ),
        "job_dumpdir": (
            "la tâche {job} écrit des fichiers simples dans le répertoire '{path}' (dumpdir), "
            "pas vers PBS"
        ),
        "job_dumpdir_any": (
            "la tâche {job} écrit des fichiers simples dans un répertoire (dumpdir), pas vers PBS"
        ),
        "node_dumpdir": (
            "la tâche {job} écrit des fichiers simples dans le répertoire '{path}' (dumpdir, "
            "le défaut vzdump du nœud {node}), pas vers PBS"
        ),
        "node_dumpdir_hidden": (
            "la tâche {job} écrit des fichiers simples dans un répertoire (dumpdir, le défaut "
            "vzdump du nœud {node} ; PVE ne montre le chemin qu'avec Sys.Audit sur le nœud), "
            "pas vers PBS"
        ),
        "job_disabled": "la tâche {job} est désactivée",
        "job_default_unknown": (
            "la tâche {job} n'a pas de stockage et le défaut vzdump du nœud {node} est inconnu"
        ),
        "job_might_include": "la tâche {job} pourrait l'inclure : {why}",
        "job_node_restricted": (
            "la tâche {job} est limitée au nœud {job_node} (l'invité est sur {node})"
        ),
        "jobs_unreadable": "les tâches de sauvegarde sont illisibles",
        "storages_unreadable": "les stockages sont illisibles",
        "no_job": "aucune tâche de sauvegarde ne l'inclut",
        "exclude_without_all": (
            "la tâche {job} a 'exclude' sans 'all' : PVE l'exécute sur tous les invités "
            "sauf les exclus (son rapport des invités sans sauvegarde la croit vide)"
        ),
        "exclude_with_pool": (
            "tâche {job} : 'exclude' est ignoré car la tâche sélectionne le pool '{pool}'"
        ),
        "job_unresolved": "tâche {job} : impossible de déterminer ses invités : {reason}",
        "job_missing_vmids": (
            "la tâche {job} liste des VMID qui n'existent pas : {vmids} ; elle échouera sur "
            "chaque nœud où elle tourne"
        ),
        "job_node_skips": (
            "la tâche {job} ne tourne que sur le nœud {node}, elle saute donc les invités "
            "qu'elle nomme et qui sont sur d'autres nœuds : {vmids}"
        ),
        "job_unknown_storage": (
            "la tâche {job} désigne un stockage inconnu '{storage}' (non configuré, ou "
            "invisible pour ce jeton d'API) : il est peut-être PBS"
        ),
        "job_disabled_storage": (
            "la tâche active {job} écrit vers le stockage désactivé '{storage}'"
        ),
        "job_storage_unavailable": (
            "la tâche {job} écrit vers le stockage PBS '{storage}', indisponible sur le nœud "
            "{nodes} où elle inclut les invités {vmids}"
        ),
        "job_default_storage_unknown": (
            "la tâche {job} utilise le stockage par défaut '{storage}' sur le nœud {nodes}, "
            "invisible pour ce jeton d'API (il est peut-être PBS)"
        ),
        "job_default_storage_disabled": (
            "la tâche active {job} écrit vers le stockage désactivé '{storage}' (défaut du "
            "nœud {nodes})"
        ),
        "job_storage_no_backup": (
            "la tâche {job} écrit vers le stockage PBS '{storage}', qui n'accepte pas le "
            "contenu de sauvegarde (nœud {nodes})"
        ),
        "job_node_missing": (
            "la tâche {job} est limitée au nœud '{node}', qui n'est pas un nœud du cluster : "
            "elle ne tourne jamais"
        ),
        "nothing_visible": (
            "aucun invité ni aucune tâche de sauvegarde visible : un cluster vide, ou il "
            "manque VM.Audit à ce jeton d'API"
        ),
        "vm_audit_missing": "{parts} : il manque probablement VM.Audit à ce jeton d'API",
        "jobs_but_no_guest": (
            "il y a des tâches de sauvegarde mais aucun invité n'est visible dans "
            "/cluster/resources"
        ),
        "pool_members_hidden": (
            "des pools listent des membres que /cluster/resources ne montre pas : {vmids}"
        ),
        "job_vmids_hidden": (
            "des tâches listent des VMID que /cluster/resources ne montre pas (invités "
            "supprimés, ou cachés) : {vmids}"
        ),
        "pve_lists_covered": (
            "la liste des invités sans sauvegarde de PVE nomme des invités que nous jugeons "
            "couverts : {vmids} ; l'analyse de couverture peut être fausse"
        ),
        "pve_counts_included": (
            "PVE compte des invités comme inclus dans une tâche de sauvegarde alors que nous "
            "n'en avons trouvé aucune : {vmids}"
        ),
        "tasks_like_this": "{pattern} ({count} tâches semblables)",
        "what_resources": "les invités",
        "what_jobs": "les tâches de sauvegarde",
        "what_storage": "les stockages",
        "what_nodes": "les nœuds",
        "what_pools": "les pools",
        "what_version": "la version",
        "what_not_backed_up": (
            "la liste des invités sans sauvegarde de PVE (contrôle croisé sauté)"
        ),
        "what_status": "le nom du cluster",
        "what_permissions": "les permissions du jeton (contrôle des privilèges sauté)",
        "answer_not_list": "{what} : réponse inattendue (pas une liste)",
        "items_skipped": (
            "{what} : {count} élément(s) sans les champs nécessaires à l'analyse, écarté(s)"
        ),
        "cannot_read": "impossible de lire {what} : {error} ({endpoint})",
        "no_nodes": (
            "PVE ne liste aucun nœud : historique des tâches, fuseaux horaires des nœuds et "
            "contenu PBS illisibles"
        ),
        "no_storage_visible": (
            "aucun stockage n'est visible alors que des tâches de sauvegarde écrivent vers "
            "des stockages : il manque probablement Datastore.Audit à ce jeton d'API"
        ),
        "pool_needs_audit": (
            "le pool '{pool}', utilisé par une tâche de sauvegarde, est illisible : il manque "
            "probablement Pool.Audit"
        ),
        "pool_read_error": "impossible de lire le pool '{pool}' : {error}",
        "paren_error": " ({error})",
        "tz_not_installed": (
            " (fuseau horaire '{zone}' inconnu sur cette machine : installer tzdata)"
        ),
        "tz_fallback": (
            "fuseau horaire du ou des nœuds {nodes} illisible{why} ; planifications évaluées "
            "en {zone}"
        ),
        "tz_fallback_guess": (
            "fuseau horaire du ou des nœuds {nodes} illisible{why} ; planifications évaluées "
            "en {zone} (régler timezone: dans la configuration)"
        ),
        "vzdump_defaults_unreadable": (
            "réglages vzdump par défaut du nœud {node} illisibles ({error}) ; les invités "
            "des tâches sans stockage y sont indéterminés"
        ),
        "notes_unreadable": "notes de {count} invité(s) illisibles",
        "creation_tasks_unreadable": (
            "liste des tâches du nœud {node} illisible ({error}) : un invité créé là depuis "
            "la dernière exécution est signalé comme jamais sauvegardé"
        ),
        "node_not_online": "nœud {node} ({status}) : son historique des tâches est illisible",
        "task_history_unreadable": "historique des tâches du nœud {node} illisible : {error}",
        "malformed_tasks": "{count} élément(s) de tâche mal formé(s) sur le nœud {node} écarté(s)",
        "task_not_usable": "tâche {upid} inutilisable : {error}",
        "no_error_text": "aucun texte d'erreur",
        "dead_run_job": (
            "la tâche {upid} sur le nœud {node} s'est arrêtée avant de sauvegarder le moindre "
            "invité ({error}) ; les invités de sa tâche de sauvegarde {job} sont inconnus"
        ),
        "dead_run_due": (
            "la tâche {upid} sur le nœud {node} s'est arrêtée avant de sauvegarder le moindre "
            "invité ({error}) ; les tâches de sauvegarde {jobs} étaient dues à son départ et "
            "on ignore laquelle elle exécutait : les derniers résultats de leurs invités "
            "peuvent être plus anciens"
        ),
        "dead_run_unmatched": (
            "la tâche {upid} sur le nœud {node} s'est arrêtée avant de sauvegarder le moindre "
            "invité ({error}) et ne correspond à aucune tâche planifiée : les invités "
            "qu'elle devait sauvegarder sont inconnus"
        ),
        "log_incomplete": (
            "le journal de {upid} est incomplet (pas de ligne de fin de tâche, statut "
            "{error}) ; les invités absents du journal ne sont pas signalés"
        ),
        "job_errors_no_guest": (
            "la tâche {upid} signale des erreurs mais son journal ne nomme aucun invité en échec"
        ),
        "tz_node_unknown": "fuseau horaire du nœud inconnu",
        "tz_unknown": "fuseau horaire '{zone}' inconnu",
        "log_times_utc": "{problem} : heures locales du journal de {upid} lues comme UTC",
        "log_unavailable": "journal de {upid} indisponible ({error}) ; {outcome}",
        "no_log": "pas de journal",
        "empty_log": "journal vide",
        "no_content": "aucun contenu",
        "outcome_status": "résultat tiré du statut de la tâche",
        "outcome_expected": "résultats des invités attendus tirés du statut de la tâche",
        "outcome_unknown": "résultats par invité inconnus (statut {error})",
        "outcome_none": "aucun résultat par invité (tâche multi-invités, invités inconnus)",
        "backup_failed": "échec de la sauvegarde",
        "more_issues": "{first} (+{count} autres)",
        "log_cut": "journal incomplet ; résultat tiré du statut de la tâche",
        "did_not_finish": "sauvegarde inachevée (fin de la tâche : {error})",
        "not_backed_up_ended": "non sauvegardé (tâche terminée : {error})",
        "ended_with": "tâche terminée avec {error}",
        "ended": "fin de la tâche : {error}",
        "ended_with_unknown_guest": "tâche terminée avec {error} (invité inconnu)",
        "from_pbs_storage": (
            "d'après le stockage PBS {storage} (aucune tâche dans la fenêtre d'historique)"
        ),
        "pbs_lists_nothing": (
            "le ou les stockages PBS {storages} ne listent aucune sauvegarde alors que des "
            "tâches ont réussi : il manque probablement Datastore.Allocate sur le stockage "
            "au jeton (ou Datastore.AllocateSpace plus VM.Backup) ; les rôles en lecture "
            "seule comme PVEAuditor voient une liste vide"
        ),
        "ok_without_snapshot": (
            "{count} invité(s) dont la dernière tâche dit OK n'ont pas cet instantané sur le "
            "stockage PBS (élagué, supprimé, ou autre espace de noms ?)"
        ),
        "no_schedule": (
            "la tâche {job} n'a pas de planification : elle ne tourne que lancée à la main"
        ),
        "schedule_not_understood": (
            "tâche {job} : planification '{schedule}' non comprise ({error})"
        ),
        "next_run_mismatch": (
            "tâche {job} : la prochaine exécution selon PVE ne correspond pas à la "
            "planification '{schedule}' dans le fuseau {zones} (problème de fuseau ou lacune "
            "de l'analyseur)"
        ),
        "history_hidden": (
            "le ou les nœuds {nodes} ne listent aucune tâche vzdump alors que PBS contient "
            "des sauvegardes faites depuis : il manque probablement Sys.Audit sur "
            "/nodes/<node> au jeton (les listes de tâches sont filtrées, pas refusées), les "
            "échecs sont donc invisibles"
        ),
        "rule_expired": "la règle ignore {rule} a expiré le {until} et ne s'applique plus",
        "secret_file_open": (
            "le fichier secret du jeton {path} est accessible à tout utilisateur local (mode "
            "{mode}) : lui retirer les droits des autres, chmod o-rwx (0600, ou 0640 avec le "
            "groupe de l'utilisateur de supervision)"
        ),
        "cache_unreadable": (
            "cache des tâches {path} illisible ({error}) ; reconstruit depuis l'API"
        ),
        "cache_unwritable": (
            "cache des tâches {path} non inscriptible ({error}) ; chaque exécution relit les "
            "journaux"
        ),
        "pbs_api_unusable": "API PBS de {server} inutilisable ({error})",
        "pbs_no_datastore": (
            "aucun serveur PBS configuré n'a le datastore {datastore} du stockage {storage}"
        ),
        "pbs_read_from_pve": "{text} : instantanés de {storage} lus depuis PVE à la place",
        "pbs_no_audit": (
            "il manque au jeton PBS {token} le rôle DatastoreAudit sur {path} ({server}) : "
            "PBS ne liste que les groupes de sauvegarde qui lui appartiennent, le stockage "
            "{storage} peut donc sembler plus vide qu'il n'est"
        ),
        "pbs_what_snapshots": "instantanés illisibles",
        "pbs_what_verify_jobs": "tâches de vérification",
        "pbs_what_gc": "état du ramasse-miettes de {store}",
        "pbs_needs_role": " (le jeton a besoin de DatastoreAudit sur {path})",
        "pbs_denied": (
            "PBS {server} : {what} du stockage {storage} : {error}{hint} ; lu depuis PVE à la place"
        ),
        "pbs_info_unreadable": "PBS {server} : {what} illisible : {error}{hint}",
        "pbs_needs_audit": " (DatastoreAudit nécessaire)",
        "pbs_verify_job": "tâche de vérification PBS {job} du datastore {datastore} ({server})",
        "pbs_gc": "ramasse-miettes PBS du datastore {datastore} ({server})",
        "pbs_job_failed": "{what} : échec le {end_at} : {error}",
        "pbs_job_late": (
            "{what} n'a pas tourné selon sa planification '{schedule}' : due depuis {due_at}, "
            "dernière exécution {last_at}"
        ),
        "pbs_job_late_never": (
            "{what} n'a pas tourné selon sa planification '{schedule}' : due depuis {due_at}, "
            "jamais exécutée"
        ),
        "pbs_not_verified": (
            "{count} instantané(s) du stockage PBS {storage} non vérifié(s) depuis plus de "
            "{max_s} ({never} jamais vérifié(s) ; le plus ancien : {oldest})"
        ),
        "pbs_inactive": (
            "le stockage PBS {storage} n'est pas actif sur PVE (PVE ne joint pas son serveur "
            "ou son datastore : les sauvegardes vers lui échouent)"
        ),
        "pbs_content_no_node": (
            "aucun nœud en ligne ne peut lire le stockage PBS {storage} ; contrôle du contenu sauté"
        ),
        "pbs_content_unreadable": "contenu du stockage PBS {storage} illisible : {error}",
        "space_unreadable": "espace du stockage PBS {storage} illisible : {error}",
        "space_no_fields": "réponse sans total/used/avail",
        "perm_lacks": ("il manque {label} au jeton d'API (/access/permissions) : {without}"),
        "perm_partly": (
            "le jeton d'API n'a {names} que sur certains chemins sous {path} (une ACL de "
            "pool ?), pas sur {path} avec propagation (/access/permissions) : {without}"
        ),
        "perm_label": "{names} sur {path}",
        "perm_label_propagated": "{names} sur {path} (propagé)",
        "perm_or": "{first} ou {second}",
        "without_sys_audit_root": (
            "403 sur les tâches de sauvegarde (pve-manager PVE/API2/Backup.pm index), la "
            "couverture ne peut donc pas être connue"
        ),
        "without_sys_audit_nodes": (
            "les listes de tâches reviennent VIDES (les sauvegardes planifiées tournent en "
            "root@pam et sont filtrées, pve-manager PVE/API2/Tasks.pm), l'historique semble "
            "donc « jamais sauvegardé » et les échecs sont invisibles"
        ),
        "without_vm_audit": (
            "les invités disparaissent sans bruit de /cluster/resources (pve-manager "
            "PVE/API2/Cluster.pm resources) : ni vérifiés, ni signalés comme non couverts"
        ),
        "without_datastore_audit": (
            "les stockages disparaissent sans bruit de /storage, les tâches semblent donc "
            "écrire vers un stockage inconnu"
        ),
        "without_pool_audit": (
            "les pools disparaissent sans bruit de /pools et le champ pool des invités, les "
            "tâches par pool ne peuvent donc pas être résolues"
        ),
    },
}

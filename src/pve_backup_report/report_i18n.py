"""English and French texts of the Markdown report (``report.py``).

Only fixed wording lives here; data (names, notes, PVE's own messages) is never
translated. Every language has exactly the same keys (a test checks it). Value words that
are codes in the JSON model (coverage values, problems) keep their code in the report and
get a label. ``MESSAGES`` holds the wording of the coded messages the analysis builds
(``messages.Msg``): the English one is also what the check and the JSON show.
"""

from __future__ import annotations

LANGS: tuple[str, ...] = ("en", "fr")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        # header
        "title": "Proxmox VE backup report: {cluster}",
        "default_cluster": "PVE cluster",
        "cluster": "Cluster",
        "pve_version": "PVE version",
        "generated_at": "Generated at",
        "evaluated_at": "Evaluation time (`--now`)",
        "evaluated_at_note": "given with `--now`: ages and freshness are judged at this time",
        "plugin_version": "Plugin version",
        "overall_state": "Overall state",
        "tls_off": "TLS",
        "tls_off_text": "certificate verification is DISABLED (`PVE_VERIFY_TLS=false`)",
        "thresholds": "Limits",
        "thresholds_text": (
            "grace {grace} after a scheduled run; latest success older than {warn} is a "
            "warning, older than {crit} is critical; task history read for {days} days"
        ),
        # summary
        "summary": "Summary",
        "what": "What",
        "count": "Count",
        "value": "Value",
        "guests_total": "Guests",
        "coverage_row": "Coverage {value}",
        "problem_row": "{label}",
        "ignored_row": "Ignored guests",
        "anomalies_row": "Anomalies",
        "jobs_row": "Backup jobs (enabled / disabled)",
        "summary_note": (
            "Coverage counts include ignored guests; problem counts do not (as in the check)."
        ),
        "pie_title": "Coverage of {n} guests",
        # needs attention
        "attention": "Needs attention",
        "attention_none": (
            "Nothing needs attention: every guest is covered and its backups are fresh."
        ),
        "attention_ignored": (
            "{n} ignored guest(s) are not listed here; see the section *Ignored guests*."
        ),
        "colon": ":",
        "sep": "; ",
        "todo": "What to do:",
        "anomalies_attention": "Anomalies",
        "node": "node",
        "jobs": "jobs",
        "pbs_jobs": "PBS jobs",
        "none": "none",
        "latest_success": "latest success",
        "expected_run": "expected run",
        "age": "age",
        "limit": "limit",
        "task": "task",
        "failed_at": "failed at",
        "no_backup_in_window": "no backup in the {days}-day history window",
        "snapshot": "snapshot",
        "on_storage": "on",
        "grant": "Grant {privilege}",
        "grant_on": "Grant {privilege} on {path}",
        "grant_on_propagated": "Grant {privilege} on {path} (propagated)",
        "or": " or ",
        "pve_error": "error",
        # guests needing action (first table)
        "action_title": "Guests needing action",
        "action_intro": (
            "Worst first; the sections below give the details and what to do. Ignored "
            "guests are not listed."
        ),
        "action_none": "No guest needs action.",
        "col_latest_success": "Latest success",
        "col_why": "Why",
        # guests table
        "guests": "Guests",
        "guests_none": "No guest is visible.",
        "col_vmid": "VMID",
        "col_name": "Name",
        "col_type": "Type",
        "col_node": "Node",
        "col_status": "Status",
        "col_pool": "Pool",
        "col_tags": "Tags",
        "col_coverage": "Coverage",
        "col_problems": "Problems",
        "col_jobs": "Jobs",
        "col_pbs_storage": "PBS storage",
        "col_datastore": "Datastore",
        "col_namespace": "Namespace",
        "col_start": "Latest start",
        "col_end": "Latest end",
        "col_result": "Result",
        "col_duration": "Duration",
        "col_age": "Age",
        "col_verification": "Verification",
        "col_freshness": "Freshness",
        "col_note": "Note",
        "ignored_mark": "ignored",
        "template": "template",
        "from_pbs": "from PBS",
        # jobs table
        "jobs_title": "Backup jobs",
        "jobs_none": "No backup job is defined.",
        "col_id": "ID",
        "col_enabled": "Enabled",
        "col_storage": "Storage (type)",
        "col_schedule": "Schedule",
        "col_readable": "Readable schedule",
        "col_next_run": "Next run",
        "col_selection": "Selection",
        "col_exclude": "Exclusions",
        "col_node_restriction": "Node restriction",
        "col_mode": "Mode",
        "col_included": "Guests included",
        "col_comment": "Comment",
        "node_default": "node default",
        "dumpdir": "directory {path} (dumpdir: plain files, not PBS)",
        "dumpdir_refused": "{storage} and directory {path}: PVE refuses to run a job with both",
        "default_dumpdir": "directory (dumpdir)",
        "any_node": "any",
        "no_schedule": "none (manual runs only)",
        "invalid_schedule": "invalid: {error}",
        "legacy": "legacy",
        "unresolved": "unresolved: {reason}",
        "possible": "might include {n}",
        # storages table
        "storages_title": "PBS storages",
        "storages_none": "No PBS storage is configured.",
        "col_server": "Server",
        "col_username": "Username",
        "col_storage_enabled": "Enabled",
        "col_nodes": "Nodes",
        "all_nodes": "all",
        "col_space": "Space used",
        "space_text": "{used} of {total} ({percent}%)",
        "space_inactive": "not active (PVE cannot reach it)",
        "space_full": "full around {date} (PBS estimate)",
        # anomalies table
        "anomalies_title": "Anomalies",
        "anomalies_none": "No anomaly.",
        "col_severity": "Severity",
        "col_component": "Component",
        "col_message": "Message",
        "col_details": "Details",
        # ignored
        "pending_title": "Pending guests",
        "pending_intro": (
            "Created after the latest run their jobs should have made: no backup was due "
            "yet, so this is not a problem. A guest that still has no backup once its first "
            "run plus the grace period has passed is reported as never backed up."
        ),
        "col_created": "Created",
        "col_created_by": "Created by",
        "col_first_run": "First backup expected",
        "created_by": "{task} on {node}",
        "created_from": "{task} on {node}, from {source}",
        "no_scheduled_run": "no scheduled run yet",
        "ignored_title": "Ignored guests",
        "ignored_none": "No guest is ignored.",
        "col_rule": "Rule",
        "col_reason": "Reason",
        "col_until": "Until",
        "no_end": "no end",
        # stats
        "stats_title": "Collection statistics",
        "stats_requests": "API requests",
        "stats_bytes": "Bytes received",
        "stats_time": "Collection time",
        "stats_tasks": "Tasks listed",
        "stats_logs": "Task logs read / from cache",
        "stats_tls": "TLS",
        # values
        "yes": "yes",
        "no": "no",
        "not_specified": "not specified",
        "days": "{n} days",
    },
    "fr": {
        "title": "Rapport de sauvegarde Proxmox VE : {cluster}",
        "default_cluster": "cluster PVE",
        "cluster": "Cluster",
        "pve_version": "Version de PVE",
        "generated_at": "Généré le",
        "evaluated_at": "Heure d'évaluation (`--now`)",
        "evaluated_at_note": (
            "donnée par `--now` : les âges et la fraîcheur sont jugés à cette heure"
        ),
        "plugin_version": "Version du plugin",
        "overall_state": "État global",
        "tls_off": "TLS",
        "tls_off_text": "vérification du certificat DÉSACTIVÉE (`PVE_VERIFY_TLS=false`)",
        "thresholds": "Limites",
        "thresholds_text": (
            "délai de grâce {grace} après une exécution planifiée ; dernière réussite plus "
            "ancienne que {warn} : avertissement, plus ancienne que {crit} : critique ; "
            "historique des tâches lu sur {days} jours"
        ),
        "summary": "Résumé",
        "what": "Quoi",
        "count": "Nombre",
        "value": "Valeur",
        "guests_total": "Invités (VM et conteneurs)",
        "coverage_row": "Couverture {value}",
        "problem_row": "{label}",
        "ignored_row": "Invités ignorés",
        "anomalies_row": "Anomalies",
        "jobs_row": "Tâches de sauvegarde (actives / désactivées)",
        "summary_note": (
            "Les nombres par couverture comptent les invités ignorés ; les nombres de "
            "problèmes ne les comptent pas (comme la sonde)."
        ),
        "pie_title": "Couverture de {n} invités",
        "attention": "À traiter",
        "attention_none": (
            "Rien à traiter : chaque invité est couvert et ses sauvegardes sont à jour."
        ),
        "attention_ignored": (
            "{n} invité(s) ignoré(s) ne sont pas listés ici ; voir la section *Invités ignorés*."
        ),
        "colon": " :",
        "sep": " ; ",
        "todo": "Que faire :",
        "anomalies_attention": "Anomalies",
        "node": "nœud",
        "jobs": "tâches",
        "pbs_jobs": "tâches PBS",
        "none": "aucune",
        "latest_success": "dernière réussite",
        "expected_run": "exécution attendue",
        "age": "âge",
        "limit": "limite",
        "task": "tâche",
        "failed_at": "échec le",
        "no_backup_in_window": "aucune sauvegarde sur les {days} jours d'historique",
        "snapshot": "instantané",
        "on_storage": "sur",
        "grant": "Accorder {privilege}",
        "grant_on": "Accorder {privilege} sur {path}",
        "grant_on_propagated": "Accorder {privilege} sur {path} (avec propagation)",
        "or": " ou ",
        "pve_error": "erreur",
        "action_title": "Invités demandant une action",
        "action_intro": (
            "Les plus graves d'abord ; les sections suivantes donnent les détails et que "
            "faire. Les invités ignorés n'y figurent pas."
        ),
        "action_none": "Aucun invité ne demande d'action.",
        "col_latest_success": "Dernière réussite",
        "col_why": "Pourquoi",
        "guests": "Invités",
        "guests_none": "Aucun invité n'est visible.",
        "col_vmid": "VMID",
        "col_name": "Nom",
        "col_type": "Type",
        "col_node": "Nœud",
        "col_status": "État",
        "col_pool": "Pool",
        "col_tags": "Étiquettes",
        "col_coverage": "Couverture",
        "col_problems": "Problèmes",
        "col_jobs": "Tâches",
        "col_pbs_storage": "Stockage PBS",
        "col_datastore": "Datastore",
        "col_namespace": "Espace de noms",
        "col_start": "Dernier début",
        "col_end": "Dernière fin",
        "col_result": "Résultat",
        "col_duration": "Durée",
        "col_age": "Âge",
        "col_verification": "Vérification",
        "col_freshness": "Fraîcheur",
        "col_note": "Note",
        "ignored_mark": "ignoré",
        "template": "modèle",
        "from_pbs": "d'après PBS",
        "jobs_title": "Tâches de sauvegarde",
        "jobs_none": "Aucune tâche de sauvegarde n'est définie.",
        "col_id": "ID",
        "col_enabled": "Active",
        "col_storage": "Stockage (type)",
        "col_schedule": "Planification",
        "col_readable": "Planification lisible",
        "col_next_run": "Prochaine exécution",
        "col_selection": "Sélection",
        "col_exclude": "Exclusions",
        "col_node_restriction": "Restriction de nœud",
        "col_mode": "Mode",
        "col_included": "Invités inclus",
        "col_comment": "Commentaire",
        "node_default": "défaut du nœud",
        "dumpdir": "répertoire {path} (dumpdir : fichiers simples, pas PBS)",
        "dumpdir_refused": (
            "{storage} et répertoire {path} : PVE refuse de lancer une tâche qui a les deux"
        ),
        "default_dumpdir": "répertoire (dumpdir)",
        "any_node": "tous",
        "no_schedule": "aucune (exécution manuelle seulement)",
        "invalid_schedule": "invalide : {error}",
        "legacy": "ancien format",
        "unresolved": "non résolue : {reason}",
        "possible": "pourrait inclure {n}",
        "storages_title": "Stockages PBS",
        "storages_none": "Aucun stockage PBS n'est configuré.",
        "col_server": "Serveur",
        "col_username": "Utilisateur",
        "col_storage_enabled": "Activé",
        "col_nodes": "Nœuds",
        "all_nodes": "tous",
        "col_space": "Espace utilisé",
        "space_text": "{used} sur {total} ({percent} %)",
        "space_inactive": "inactif (PVE ne le joint pas)",
        "space_full": "plein vers le {date} (estimation de PBS)",
        "anomalies_title": "Anomalies",
        "anomalies_none": "Aucune anomalie.",
        "col_severity": "Gravité",
        "col_component": "Composant",
        "col_message": "Message",
        "col_details": "Détails",
        "pending_title": "Invités en attente",
        "pending_intro": (
            "Créés après la dernière exécution que leurs tâches devaient faire : aucune "
            "sauvegarde n'était encore due, ce n'est donc pas un problème. Un invité toujours "
            "sans sauvegarde une fois sa première exécution et le délai de grâce passés est "
            "signalé comme jamais sauvegardé."
        ),
        "col_created": "Créé le",
        "col_created_by": "Créé par",
        "col_first_run": "Première sauvegarde prévue",
        "created_by": "{task} sur {node}",
        "created_from": "{task} sur {node}, depuis {source}",
        "no_scheduled_run": "aucune exécution planifiée pour l'instant",
        "ignored_title": "Invités ignorés",
        "ignored_none": "Aucun invité n'est ignoré.",
        "col_rule": "Règle",
        "col_reason": "Raison",
        "col_until": "Jusqu'au",
        "no_end": "sans fin",
        "stats_title": "Statistiques de collecte",
        "stats_requests": "Requêtes API",
        "stats_bytes": "Octets reçus",
        "stats_time": "Durée de collecte",
        "stats_tasks": "Tâches listées",
        "stats_logs": "Journaux de tâches lus / depuis le cache",
        "stats_tls": "TLS",
        "yes": "oui",
        "no": "non",
        "not_specified": "non spécifié",
        "days": "{n} jours",
    },
}

# Labels of code words (enum values); the report shows the code and, in French, the label.
VALUE_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "coverage": {
            "covered": "covered by an enabled PBS job",
            "non_pbs_only": "only in jobs to non-PBS storage",
            "disabled_only": "only in disabled jobs",
            "not_covered": "in no backup job",
            "indeterminate": "cannot be determined",
        },
        "problem": {
            "not_covered": "Not covered by any backup job",
            "indeterminate": "Coverage cannot be determined",
            "disabled_only": "Only in disabled jobs",
            "non_pbs_only": "Only backed up to non-PBS storage",
            "failed": "Latest backup failed",
            "stale": "Stale backup (missed run)",
            "never": "Never backed up",
            "verify_failed": "Failed verification",
            "age_warning": "Latest success older than the warning age",
            "age_critical": "Latest success older than the critical age",
        },
        "problem_short": {
            "not_covered": "not covered",
            "indeterminate": "coverage unknown",
            "disabled_only": "disabled jobs only",
            "non_pbs_only": "non-PBS only",
            "failed": "failed",
            "stale": "stale",
            "never": "never backed up",
            "verify_failed": "verification failed",
            "age_warning": "old (warning)",
            "age_critical": "old (critical)",
        },
        "freshness": {
            "fresh": "fresh",
            "stale": "stale",
            "failed": "failed",
            "never": "never",
            "pending": "pending",
            "unknown": "unknown",
        },
        "result": {
            "ok": "ok",
            "warning": "warning",
            "failed": "failed",
            "running": "running",
        },
        "verification": {"ok": "ok", "failed": "failed", "none": "not verified"},
        "severity": {"info": "info", "warning": "warning", "critical": "critical"},
        "status": {"running": "running", "stopped": "stopped", "paused": "paused"},
        "state": {"OK": "", "WARNING": "", "CRITICAL": "", "UNKNOWN": ""},
        "selection": {"pool": "pool", "vmid": "VMIDs", "all": "all", "none": "none"},
        "mode": {"snapshot": "snapshot", "suspend": "suspend", "stop": "stop"},
        "storage_type": {"unknown": "unknown", "default": "default", "dumpdir": "dumpdir"},
        "tls": {
            "verified": "verified",
            "not verified": "not verified",
            "pinned": "pinned",
            "plain http": "plain http",
        },
    },
    "fr": {
        "coverage": {
            "covered": "couvert par une tâche PBS active",
            "non_pbs_only": "seulement dans des tâches vers un stockage non-PBS",
            "disabled_only": "seulement dans des tâches désactivées",
            "not_covered": "dans aucune tâche de sauvegarde",
            "indeterminate": "impossible à déterminer",
        },
        "problem": {
            "not_covered": "Couvert par aucune tâche de sauvegarde",
            "indeterminate": "Couverture impossible à déterminer",
            "disabled_only": "Seulement dans des tâches désactivées",
            "non_pbs_only": "Sauvegardé seulement vers un stockage non-PBS",
            "failed": "Dernière sauvegarde en échec",
            "stale": "Sauvegarde en retard (exécution manquée)",
            "never": "Jamais sauvegardé",
            "verify_failed": "Vérification en échec",
            "age_warning": "Dernière réussite plus ancienne que l'âge d'avertissement",
            "age_critical": "Dernière réussite plus ancienne que l'âge critique",
        },
        "problem_short": {
            "not_covered": "non couvert",
            "indeterminate": "couverture inconnue",
            "disabled_only": "tâches désactivées",
            "non_pbs_only": "hors PBS",
            "failed": "échec",
            "stale": "en retard",
            "never": "jamais sauvegardé",
            "verify_failed": "vérification en échec",
            "age_warning": "ancienne (avertissement)",
            "age_critical": "ancienne (critique)",
        },
        "freshness": {
            "fresh": "à jour",
            "stale": "en retard",
            "failed": "en échec",
            "never": "jamais",
            "pending": "en attente",
            "unknown": "inconnue",
        },
        "result": {
            "ok": "ok",
            "warning": "avertissement",
            "failed": "échec",
            "running": "en cours",
        },
        "verification": {"ok": "ok", "failed": "échec", "none": "non vérifiée"},
        "severity": {"info": "info", "warning": "avertissement", "critical": "critique"},
        "status": {"running": "démarré", "stopped": "arrêté", "paused": "en pause"},
        "state": {
            "OK": "ok",
            "WARNING": "avertissement",
            "CRITICAL": "critique",
            "UNKNOWN": "inconnu",
        },
        "selection": {"pool": "pool", "vmid": "VMID", "all": "tous", "none": "aucune"},
        "mode": {"snapshot": "instantané", "suspend": "suspension", "stop": "arrêt"},
        "storage_type": {"unknown": "inconnu", "default": "défaut", "dumpdir": "dumpdir"},
        "tls": {
            "verified": "vérifié",
            "not verified": "non vérifié",
            "pinned": "épinglé",
            "plain http": "HTTP en clair",
        },
    },
}

# What to do, per problem. Fixed text, no data.
ADVICE: dict[str, dict[str, str]] = {
    "en": {
        "not_covered": (
            "Add the guest to a backup job that writes to a PBS storage (by VMID, by pool, "
            "or with *all*), or, if it needs no backup, add an `ignore:` rule with a "
            "`reason` (and an `until` date if temporary) to the configuration."
        ),
        "indeterminate": (
            "A job that might include the guest cannot be resolved (unreadable or missing "
            "pool, invalid VMID list): fix the job's selection in Datacenter → Backup, or "
            "grant `Pool.Audit` on the pool to the monitoring token. See the anomalies."
        ),
        "disabled_only": (
            "Every job that includes the guest is disabled: enable the job "
            "(Datacenter → Backup → Edit → Enable) or move the guest to an enabled PBS job."
        ),
        "non_pbs_only": (
            "The enabled jobs that include the guest write to a non-PBS (or unusable) "
            "storage, or write plain files to a directory (`dumpdir`, the job's or the "
            "node's vzdump default), which never reaches PBS: point one of them to a PBS "
            "storage available on the guest's node, or add the guest to a PBS job. The "
            "reasons name the storage or the directory."
        ),
        "failed": (
            "Read the task log on the node (Node → Task History, or "
            "`pvenode task log <UPID>` on that node), fix the cause (storage full, PBS "
            "unreachable, guest lock, snapshot error) and run the job again (Run now)."
        ),
        "stale": (
            "The latest success is older than the latest scheduled run: check that the job "
            "ran on the guest's node at that time — node down or fenced, `pvescheduler` "
            "not running (`systemctl status pvescheduler`), guest locked (`qm unlock`/"
            "`pct unlock`), or the run still going. Look at the node's task history."
        ),
        "never": (
            "No backup of the guest in the task history although a run was due: check the "
            "job's schedule and storage, that the node was up, and start the job by hand "
            "(Run now) to see whether it works."
        ),
        "verify_failed": (
            "The newest PBS snapshot failed verification: re-run the verification on PBS "
            "(Datastore → Content → Verify), check the datastore's disks and take a new "
            "backup; do not rely on that snapshot for a restore."
        ),
        "age_critical": (
            "The latest successful backup is older than the critical maximum age: find out "
            "why backups stopped succeeding (task logs, job, storage) and run one now."
        ),
        "age_warning": (
            "The latest successful backup is older than the warning maximum age: check the "
            "job's schedule and the latest task logs before it becomes critical."
        ),
    },
    "fr": {
        "not_covered": (
            "Ajouter l'invité à une tâche de sauvegarde qui écrit vers un stockage PBS "
            "(par VMID, par pool ou avec *tous*), ou, s'il n'a pas besoin de sauvegarde, "
            "ajouter une règle `ignore:` avec une `reason` (et une date `until` si c'est "
            "temporaire) dans la configuration."
        ),
        "indeterminate": (
            "Une tâche qui pourrait inclure l'invité ne peut pas être résolue (pool illisible "
            "ou absent, liste de VMID invalide) : corriger la sélection de la tâche dans "
            "Centre de données → Sauvegarde, ou accorder `Pool.Audit` sur le pool au jeton "
            "de supervision. Voir les anomalies."
        ),
        "disabled_only": (
            "Toutes les tâches qui incluent l'invité sont désactivées : activer la tâche "
            "(Centre de données → Sauvegarde → Éditer → Activer) ou déplacer l'invité dans "
            "une tâche PBS active."
        ),
        "non_pbs_only": (
            "Les tâches actives qui incluent l'invité écrivent vers un stockage non-PBS (ou "
            "inutilisable), ou écrivent des fichiers simples dans un répertoire (`dumpdir`, "
            "celui de la tâche ou le défaut vzdump du nœud), qui n'atteint jamais PBS : "
            "faire pointer l'une d'elles vers un stockage PBS disponible sur le nœud de "
            "l'invité, ou ajouter l'invité à une tâche PBS. Les raisons nomment le stockage "
            "ou le répertoire."
        ),
        "failed": (
            "Lire le journal de la tâche sur le nœud (Nœud → Historique des tâches, ou "
            "`pvenode task log <UPID>` sur ce nœud), corriger la cause (stockage plein, PBS "
            "injoignable, verrou de l'invité, erreur d'instantané) puis relancer la tâche "
            "(Exécuter maintenant)."
        ),
        "stale": (
            "La dernière réussite est antérieure à la dernière exécution planifiée : vérifier "
            "que la tâche a tourné sur le nœud de l'invité à ce moment — nœud arrêté ou "
            "isolé, `pvescheduler` arrêté (`systemctl status pvescheduler`), invité verrouillé "
            "(`qm unlock`/`pct unlock`), ou exécution encore en cours. Consulter "
            "l'historique des tâches du nœud."
        ),
        "never": (
            "Aucune sauvegarde de l'invité dans l'historique alors qu'une exécution était "
            "due : vérifier la planification et le stockage de la tâche, que le nœud était "
            "démarré, et lancer la tâche à la main (Exécuter maintenant) pour voir si elle "
            "fonctionne."
        ),
        "verify_failed": (
            "Le plus récent instantané PBS a échoué à la vérification : relancer la "
            "vérification sur PBS (Datastore → Contenu → Vérifier), contrôler les disques du "
            "datastore et faire une nouvelle sauvegarde ; ne pas compter sur cet instantané "
            "pour une restauration."
        ),
        "age_critical": (
            "La dernière sauvegarde réussie est plus ancienne que l'âge maximal critique : "
            "trouver pourquoi les sauvegardes ne réussissent plus (journaux, tâche, stockage) "
            "et en lancer une maintenant."
        ),
        "age_warning": (
            "La dernière sauvegarde réussie est plus ancienne que l'âge maximal "
            "d'avertissement : vérifier la planification de la tâche et les derniers "
            "journaux avant que cela devienne critique."
        ),
    },
}

# What to do, per anomaly component.
COMPONENT_HINTS: dict[str, dict[str, str]] = {
    "en": {
        "api": "Check the API URL, the token and the network path to the PVE nodes.",
        "nodes": "Check that every cluster node is up and reachable from the API node.",
        "storages": (
            "Fix the storage configuration (Datacenter → Storage): enable it, allow it on "
            "the nodes where the job runs, allow the `backup` content."
        ),
        "jobs": "Fix the backup job (Datacenter → Backup): VMID list, storage, node.",
        "guests": "Check the guests' configuration and the token's `VM.Audit` privilege.",
        "pools": "Fix the pool or grant `Pool.Audit` on it to the monitoring token.",
        "tasks": (
            "The task history or a task log was not usable: check the node, grant "
            "`Sys.Audit` on `/nodes`, or raise the task limits."
        ),
        "pbs_content": (
            "Check that PBS is reachable from the node and that the token may list the "
            "storage content (`Datastore.Audit`/`Datastore.Allocate` on `/storage/<id>`)."
        ),
        "pbs": (
            "Check the PBS server named (reachable on port 8007, its verify jobs and garbage "
            "collection in Datastore → Prune & GC / Verify Jobs) and that the PBS token has "
            "the `DatastoreAudit` role on the datastore."
        ),
        "permissions": "Grant the named privilege to the monitoring token (or its role).",
        "schedule": (
            "Fix the job's schedule (check it with `--explain-schedule`) and the nodes' time zones."
        ),
        "coverage": (
            "Compare with Datacenter → Backup → *Guests without backup job*; the analysis "
            "may be wrong: please report it."
        ),
        "config": "Fix the plugin's configuration file (ignore rules, thresholds).",
        "cache": "Check the task cache file's path and permissions, or delete it.",
        "report": "Check the report's path and permissions.",
        "other": "Read the message and check the component named.",
    },
    "fr": {
        "api": "Vérifier l'URL de l'API, le jeton et l'accès réseau aux nœuds PVE.",
        "nodes": "Vérifier que chaque nœud du cluster est démarré et joignable.",
        "storages": (
            "Corriger la configuration du stockage (Centre de données → Stockage) : "
            "l'activer, l'autoriser sur les nœuds où la tâche tourne, autoriser le contenu "
            "`backup`."
        ),
        "jobs": (
            "Corriger la tâche de sauvegarde (Centre de données → Sauvegarde) : liste de "
            "VMID, stockage, nœud."
        ),
        "guests": "Vérifier la configuration des invités et le privilège `VM.Audit` du jeton.",
        "pools": "Corriger le pool ou accorder `Pool.Audit` sur celui-ci au jeton de supervision.",
        "tasks": (
            "L'historique ou un journal de tâche n'était pas utilisable : vérifier le nœud, "
            "accorder `Sys.Audit` sur `/nodes`, ou augmenter les limites de tâches."
        ),
        "pbs_content": (
            "Vérifier que PBS est joignable depuis le nœud et que le jeton peut lister le "
            "contenu du stockage (`Datastore.Audit`/`Datastore.Allocate` sur "
            "`/storage/<id>`)."
        ),
        "pbs": (
            "Vérifier le serveur PBS nommé (joignable sur le port 8007, ses tâches de "
            "vérification et son ramasse-miettes dans Datastore → Prune & GC / Verify Jobs) "
            "et que le jeton PBS a le rôle `DatastoreAudit` sur le datastore."
        ),
        "permissions": "Accorder le privilège nommé au jeton de supervision (ou à son rôle).",
        "schedule": (
            "Corriger la planification de la tâche (la vérifier avec `--explain-schedule`) "
            "et le fuseau horaire des nœuds."
        ),
        "coverage": (
            "Comparer avec Centre de données → Sauvegarde → *Invités sans tâche de "
            "sauvegarde* ; l'analyse peut être fausse : merci de le signaler."
        ),
        "config": "Corriger le fichier de configuration du plugin (règles ignore, seuils).",
        "cache": "Vérifier le chemin et les droits du fichier cache des tâches, ou le supprimer.",
        "report": "Vérifier le chemin et les droits du rapport.",
        "other": "Lire le message et vérifier le composant nommé.",
    },
}

# --------------------------------------------------------------------------- messages
# The wording of every ``messages.Msg`` code (coverage reasons, anomalies, results we
# build). Arguments are formatted by ``messages.render`` (lists, durations, times,
# decimals); the English texts are also what the check and the JSON show.

LIST_TOTAL: dict[str, str] = {"en": "({n} in total)", "fr": "({n} au total)"}
UNKNOWN_TIME: dict[str, str] = {"en": "?", "fr": "?"}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # joining pieces
        "empty": "",
        "suffix_node_default": ", the default of node {node}",
        "suffix_fallback": ", the fallback on node {node} (no vzdump default known)",
        # a job's selection (coverage.py)
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
        # a job's storage on a node (coverage.py)
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
        # why a guest has its coverage (coverage.py)
        "job_disabled": "job {job} is disabled",
        "job_default_unknown": (
            "job {job} has no storage and the vzdump default of node {node} is unknown"
        ),
        "job_might_include": "job {job} might include it: {why}",
        "job_node_restricted": "job {job} is restricted to node {job_node} (guest is on {node})",
        "jobs_unreadable": "the backup jobs could not be read",
        "storages_unreadable": "the storages could not be read",
        "no_job": "no backup job includes it",
        # anomalies of the coverage analysis (coverage.py)
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
            "visible to this API token)"
        ),
        "job_disabled_storage": "enabled job {job} writes to disabled storage '{storage}'",
        "job_storage_unavailable": (
            "job {job} writes to PBS storage '{storage}', which is not available on node "
            "{nodes} where it includes guests {vmids}"
        ),
        "job_default_storage_unknown": (
            "job {job} uses unknown default storage '{storage}' on node {nodes}"
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
        # condensed anomalies (anomalies.py)
        "tasks_like_this": "{pattern} ({count} tasks like this)",
        # collection (collect.py, collect_tasks.py, collect_creation.py)
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
        # task logs (history.py)
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
        "ended_with": "task ended with {error}",
        "ended": "task ended: {error}",
        "ended_with_unknown_guest": "task ended with {error} (guest unknown)",
        "from_pbs_storage": "from PBS storage {storage} (no task in the history window)",
        # assessment (assess.py, anomalies.py)
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
        # configuration (ignore.py), cache (task_cache.py)
        "rule_expired": "ignore rule {rule} expired on {until} and no longer applies",
        "secret_file_open": (
            "token secret file {path} is accessible to every local user (mode {mode}): "
            "chmod o-rwx it (0600, or 0640 with the monitoring user's group)"
        ),
        "cache_unreadable": "task cache {path} unreadable ({error}); rebuilt from the API",
        "cache_unwritable": (
            "task cache {path} not writable ({error}); every run reads the logs again"
        ),
        # PBS (pbs_collect.py, pbs_content.py, pbs_health.py, storage_space.py)
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
        # privileges (privileges.py)
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
            "invisible pour ce jeton d'API)"
        ),
        "job_disabled_storage": (
            "la tâche active {job} écrit vers le stockage désactivé '{storage}'"
        ),
        "job_storage_unavailable": (
            "la tâche {job} écrit vers le stockage PBS '{storage}', indisponible sur le nœud "
            "{nodes} où elle inclut les invités {vmids}"
        ),
        "job_default_storage_unknown": (
            "la tâche {job} utilise un stockage par défaut inconnu '{storage}' sur le nœud {nodes}"
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

"""English and French texts of the Markdown report (``output/report.py``).

Only fixed wording lives here; data (names, notes, PVE's own messages) is never
translated. Every language has exactly the same keys (a test checks it). Value words that
are codes in the JSON model (coverage values, problems) keep their code in the report and
get a label. ``MESSAGES`` holds the wording of the coded messages the analysis builds
(``messages.Msg``): the English one is also what the check and the JSON show.
"""

from __future__ import annotations

# The coded messages' wording lives next to the messages (lowest layer); the report
# reads it from here like its own texts.
from pve_backup_report.message_texts import LIST_TOTAL, MESSAGES, UNKNOWN_TIME

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
        "refused": "PVE refuses to run it ({reason}): it backs up nothing",
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
        "refused": "PVE refuse de l'exécuter ({reason}) : elle ne sauvegarde rien",
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
            "`reason` (and an `until` date if temporary) to the configuration. When a "
            "reason names a job PVE refuses to run or a storage that does not exist, fix "
            "that job in Datacenter → Backup."
        ),
        "indeterminate": (
            "A job that might include the guest cannot be resolved (pool hidden from the "
            "token or unreadable), or writes to a storage the token may not see: grant "
            "`Pool.Audit` on the pool or `Datastore.Audit` on the storage to the "
            "monitoring token. See the anomalies."
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
            "temporaire) dans la configuration. Quand une raison nomme une tâche que PVE "
            "refuse d'exécuter ou un stockage qui n'existe pas, corriger cette tâche dans "
            "Centre de données → Sauvegarde."
        ),
        "indeterminate": (
            "Une tâche qui pourrait inclure l'invité ne peut pas être résolue (pool caché au "
            "jeton ou illisible), ou écrit sur un stockage que le jeton ne voit peut-être "
            "pas : accorder `Pool.Audit` sur le pool ou `Datastore.Audit` sur le stockage "
            "au jeton de supervision. Voir les anomalies."
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

__all__ = ["ADVICE", "COMPONENT_HINTS", "LANGS", "LIST_TOTAL", "MESSAGES", "TEXTS",
           "UNKNOWN_TIME", "VALUE_LABELS"]  # fmt: skip

"""``python -m pve_backup_report``: the same entry point as ``check_pve_backup``."""

from pve_backup_report.cli import main

if __name__ == "__main__":
    main()

"""check_pve_backup: Proxmox VE backup coverage and freshness check for Nagios/Icinga."""

__version__ = "0.1.0"

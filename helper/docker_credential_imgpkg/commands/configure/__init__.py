"""``configure``: writing other tools' configuration files so they use this helper.

command.py  the command line, and running the edits
edit.py     loading, planning, rendering, the masked diff, the locked atomic write
docker.py   docker's config.json and containers' auth.json (credsStore, credHelpers, --keep-store)
kubelet.py  the kubelet's CredentialProviderConfig
"""

"""What a recipe folder holds, by name: shared by the loader and the host-side scan."""

MANIFEST = "fault.yaml"
# The playbooks a recipe may have at its top level, in the order a seat runs them.
PLAYBOOKS = ("prepare.yml", "inject.yml", "fix.yml")

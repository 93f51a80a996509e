"""The demo: starts the services that exist on the embedded defaults and shows them working."""

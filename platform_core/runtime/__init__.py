"""What modules declare (ModuleSpec) and the runtime assembled from them."""

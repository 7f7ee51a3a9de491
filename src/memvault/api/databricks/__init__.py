"""The Databricks face: Unity Catalog memory stores and memory entries (contract §6.1, §6.2)."""

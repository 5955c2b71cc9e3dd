"""YAML recipes: the schema (:mod:`.schema`), the stage kinds (:mod:`.stages`), the pipeline that
runs them (:mod:`.pipeline`) and the summary it writes (:mod:`.summary`)."""

if then fi )
;; && ||
case in esac esac
}}}{{{

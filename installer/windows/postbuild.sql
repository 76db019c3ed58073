-- Applied by scripts/dist.sh with msibuild after wixl, one statement per
-- line (lines starting with "--" and blank lines are skipped). These are the
-- parts of installer/windows/mapdrive.wxs that wixl cannot express.
--
-- Component conditions: a policy value is written only when its property
-- is set, and the Run key only when autostart is on.
UPDATE `Component` SET `Condition` = 'SERVICEURL' WHERE `Component` = 'PolicyServiceURL'
UPDATE `Component` SET `Condition` = 'SERVICESCOPE' WHERE `Component` = 'PolicyServiceScope'
UPDATE `Component` SET `Condition` = 'TENANTID' WHERE `Component` = 'PolicyTenantID'
UPDATE `Component` SET `Condition` = 'CLIENTID' WHERE `Component` = 'PolicyClientID'
UPDATE `Component` SET `Condition` = 'AUTHORITY' WHERE `Component` = 'PolicyAuthority'
UPDATE `Component` SET `Condition` = 'CACHEMAXGB' WHERE `Component` = 'PolicyCacheMaxGB'
UPDATE `Component` SET `Condition` = 'LEASEKEY' WHERE `Component` = 'PolicyLeaseKey'
UPDATE `Component` SET `Condition` = 'AUTOSTART = "1"' WHERE `Component` = 'RunAtLogin'
-- wixl marks every custom action "no impersonate" (2048); property setters
-- are plain type 51.
UPDATE `CustomAction` SET `Type` = 51
-- Public properties must be secure to reach the server side of a managed
-- (Intune, SYSTEM) install; the upgrade properties must be too.
UPDATE `Property` SET `Value` = 'NEWERVERSIONDETECTED;OLDERVERSIONBEINGUPGRADED;SERVICEURL;SERVICESCOPE;TENANTID;CLIENTID;AUTHORITY;AUTOSTART;CACHEMAXGB;LEASEKEY' WHERE `Property` = 'SecureCustomProperties'
-- Put the install folder on the system PATH, so `mapdrive status` works in
-- any terminal: appended ([~];) on install, taken out again on uninstall.
-- wixl has no Environment element, so the table and its two standard
-- actions are added here.
CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, `Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)
INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) VALUES ('PathMapdrive', '=-*PATH', '[~];[INSTALLDIR]', 'AgentCLI')
INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('RemoveEnvironmentStrings', 3300)
INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('WriteEnvironmentStrings', 5200)
